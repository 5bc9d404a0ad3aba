import Foundation
@testable import GPUStyle
import XCTest

/// A real single-node Slurm (munged, slurmctld and slurmd started here as root, with a
/// generated slurm.conf in a temporary folder) runs examples/slurm/stylize-array.sbatch: an
/// array of 3 tasks over 6 tiny jobs; then a task of a second array is cancelled mid-job and
/// the array resubmitted. Skipped, with the reason, when not root or Slurm is not installed
/// (scripts/install-deps.sh installs slurm-wlm and munge). Every daemon is stopped by its pid.
final class SlurmArrayTests: BatchCommandLineTestsBase {
    /// The daemons started here, by pid (posix_spawn: Foundation's Process left a Slurm client
    /// unreaped while daemons ran).
    private var daemons: [pid_t] = []
    private var environment: [String: String] = [:]

    override func tearDown() {
        for pid in daemons.reversed() {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            let deadline = Date().addingTimeInterval(10)
            while waitpid(pid, &status, WNOHANG) == 0 {
                if Date() > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    break
                }
                usleep(50_000)
            }
        }
        daemons = []
        super.tearDown()
    }

    func testArrayTasksRunEveryJobOnceAndAResubmissionFinishesACancelledTask() throws {
        guard getuid() == 0 else { throw XCTSkip("starting slurmctld, slurmd and munged needs root") }
        let tools = [
            "/usr/sbin/munged", "/usr/sbin/mungekey", "/usr/sbin/slurmctld", "/usr/sbin/slurmd",
            "/usr/bin/sbatch", "/usr/bin/squeue", "/usr/bin/scancel", "/usr/bin/sinfo",
        ]
        if let missing = tools.first(where: { !FileManager.default.isExecutableFile(atPath: $0) }) {
            throw XCTSkip(
                "\(missing) is missing; install the Debian packages slurm-wlm and munge (scripts/install-deps.sh)")
        }
        let binary = try binary().path
        // The example as it is, less its GPU request: this node has no GPU.
        let example = try String(contentsOfFile: examplePath("slurm/stylize-array.sbatch"), encoding: .utf8)
        let script = path("stylize-array.sbatch")
        FileManager.default.createFile(
            atPath: script,
            contents: Data(
                example.split(separator: "\n", omittingEmptySubsequences: false).filter {
                    !$0.hasPrefix("#SBATCH --gres")
                }.joined(separator: "\n").utf8))
        try startSlurm()

        // 1: an array of 3 tasks over 6 jobs.
        let first = path("first")
        let manifest = writeManifest(
            (0..<6).map { job(content, style, output: "j\($0).png", options: #"{"seed": \#($0)}"#) })
        let options = try tiny(devices: nil)
        let firstArray = try submit(script, manifest: manifest, outdir: first, binary: binary, options: options)
        try waitUntilFinished(firstArray)
        XCTAssertEqual(images(in: first), (0..<6).map { "j\($0).png" })
        let firstLogs = logs(first)
        for index in 0..<6 {
            XCTAssertEqual(count("j\(index).png: done in", firstLogs), 1, "j\(index) ran once:\n\(firstLogs)")
        }
        XCTAssertEqual(count("(shard ", firstLogs), 3, firstLogs)

        // 2: task 1 (j1, j4) is cancelled while j4 runs; resubmitting finishes j4 alone.
        let second = path("second")
        let slow = writeManifest(
            (0..<6).map {
                job(
                    content, style, output: "j\($0).png",
                    options: #"{"seed": \#($0), "iterations": \#($0 == 4 ? 400 : 20)}"#)
            }, name: "slow.jsonl")
        let slowOptions = options + ["--checkpoint-every", "10"]
        let cancelled = try submit(script, manifest: slow, outdir: second, binary: binary, options: slowOptions)
        let checkpoint = second + "/.stylize-gpu/j4.png.ckpt"
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: checkpoint), Date() < deadline { usleep(50_000) }
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: checkpoint), "j4 never wrote a checkpoint:\n\(logs(second))")
        _ = try tool("/usr/bin/scancel", ["\(cancelled)_1"])
        try waitUntilFinished(cancelled)
        let cancelledLogs = logs(second)
        XCTAssertTrue(cancelledLogs.contains("j4.png: interrupted"), cancelledLogs)
        XCTAssertFalse(images(in: second).contains("j4.png"))
        XCTAssertEqual(images(in: second).count, 5, cancelledLogs)

        let resubmitted = try submit(script, manifest: slow, outdir: second, binary: binary, options: slowOptions)
        try waitUntilFinished(resubmitted, timeout: 120)
        let allLogs = logs(second)
        XCTAssertEqual(images(in: second), (0..<6).map { "j\($0).png" }, allLogs)
        for index in 0..<6 {
            XCTAssertEqual(count("j\(index).png: done in", allLogs), 1, "j\(index) ran once:\n\(allLogs)")
        }
        XCTAssertEqual(count(": skipped (finished", allLogs), 5, allLogs)
        XCTAssertTrue(allLogs.contains("j4.png: done in") && allLogs.contains("resumed at iteration"), allLogs)
    }

    // MARK: Slurm on this machine

    private func startSlurm() throws {
        let state = path("slurm")
        for sub in ["munge", "state", "spool", "log"] {
            try FileManager.default.createDirectory(atPath: state + "/" + sub, withIntermediateDirectories: true)
        }
        chmod(folder, 0o755)
        chmod(state, 0o755)
        let socket = state + "/munge/munge.sock"
        _ = try tool("/usr/sbin/mungekey", ["-c", "-k", state + "/munge/munge.key"])
        chmod(state + "/munge", 0o755)
        try daemon(
            "/usr/sbin/munged",
            [
                "-F", "-f", "--key-file=\(state)/munge/munge.key", "--socket=\(socket)",
                "--log-file=\(state)/log/munged.log", "--pid-file=\(state)/munge/munged.pid",
                "--seed-file=\(state)/munge/seed",
            ], log: state + "/log/munged.out")
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket), Date() < deadline { usleep(50_000) }

        let host = BatchLock.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let ports = (freePort(), freePort())
        let conf = """
            ClusterName=stylizetest
            SlurmctldHost=\(host)
            SlurmctldPort=\(ports.0)
            SlurmdPort=\(ports.1)
            AuthType=auth/munge
            AuthInfo=socket=\(socket)
            CredType=cred/munge
            SlurmUser=root
            SlurmdUser=root
            StateSaveLocation=\(state)/state
            SlurmdSpoolDir=\(state)/spool
            SlurmctldPidFile=\(state)/slurmctld.pid
            SlurmdPidFile=\(state)/slurmd.pid
            SlurmctldLogFile=\(state)/log/slurmctld.log
            SlurmdLogFile=\(state)/log/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            MpiDefault=none
            ReturnToService=2
            KillWait=5
            JobCompType=jobcomp/none
            AccountingStorageType=accounting_storage/none
            JobAcctGatherType=jobacct_gather/none
            NodeName=\(host) CPUs=\(ProcessInfo.processInfo.activeProcessorCount) State=UNKNOWN
            PartitionName=test Nodes=\(host) Default=YES MaxTime=INFINITE State=UP

            """
        let confPath = state + "/slurm.conf"
        FileManager.default.createFile(atPath: confPath, contents: Data(conf.utf8))
        environment = ["SLURM_CONF": confPath]
        try daemon("/usr/sbin/slurmctld", ["-D", "-i", "-f", confPath], log: state + "/log/slurmctld.out")
        try daemon("/usr/sbin/slurmd", ["-D", "-f", confPath], log: state + "/log/slurmd.out")
        let ready = Date().addingTimeInterval(30)
        var status = ""
        while Date() < ready {
            status = (try? tool("/usr/bin/sinfo", ["-h", "-o", "%t"])) ?? ""
            if status.trimmingCharacters(in: .whitespacesAndNewlines) == "idle" { return }
            usleep(200_000)
        }
        throw XCTSkip("the single-node Slurm did not come up (sinfo: \(status)); logs in \(state)/log")
    }

    private func daemon(_ executable: String, _ arguments: [String], log: String) throws {
        daemons.append(try spawn(executable, arguments, output: log))
    }

    /// Starts a program with stdout and stderr into `output` and stdin from /dev/null.
    private func spawn(
        _ executable: String, _ arguments: [String], extra: [String: String] = [:], output: String
    )
        throws -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.merging(extra) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard status == 0 else { throw StyleError("cannot start \(executable): \(String(cString: strerror(status)))") }
        return pid
    }

    /// Runs a Slurm client to its end; its output (stdout and stderr, to a file: no pipe to stall).
    @discardableResult
    private func tool(_ executable: String, _ arguments: [String], extra: [String: String] = [:]) throws -> String {
        let log = path("tool-\(UUID().uuidString).out")
        let pid = try spawn(executable, arguments, extra: extra, output: log)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw StyleError("\(executable) \(arguments.joined(separator: " ")) exited \(status >> 8): \(output)")
        }
        return output
    }

    /// Submits the example script as an array of 3 tasks; returns the job id.
    private func submit(
        _ script: String, manifest: String, outdir: String, binary: String, options: [String]
    ) throws
        -> String
    {
        try FileManager.default.createDirectory(atPath: outdir, withIntermediateDirectories: true)
        let output = try tool(
            "/usr/bin/sbatch",
            [
                "--parsable", "--array=0-2", "--gres=none", "--cpus-per-task=1", "--output=\(outdir)/task-%A_%a.log",
                script,
            ],
            extra: [
                "MANIFEST": manifest, "OUTDIR": outdir, "STYLIZE_GPU": binary,
                "STYLIZE_OPTIONS": options.joined(separator: " "), "DEVICES": "native",
            ])
        return output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    }

    private func waitUntilFinished(_ job: String, timeout: Double = 90) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let queued = try tool("/usr/bin/squeue", ["-h", "-j", job])
            if queued.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
            usleep(250_000)
        }
        XCTFail("Slurm job \(job) still queued or running after \(timeout) s")
    }

    private func logs(_ outdir: String) -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: outdir)) ?? []).filter {
            $0.hasSuffix(".log")
        }
        return names.sorted().map { (try? String(contentsOfFile: outdir + "/" + $0, encoding: .utf8)) ?? "" }.joined()
    }

    private func count(_ text: String, _ haystack: String) -> Int {
        haystack.components(separatedBy: text).count - 1
    }

    /// A TCP port nothing listens on now (the kernel's choice for port 0).
    private func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
