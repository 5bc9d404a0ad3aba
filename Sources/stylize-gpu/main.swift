import GPUStyle
print("stylize-gpu")
