"""A private PostgreSQL cluster for the benchmark, started the way scripts/test.sh starts one: initdb and
pg_ctl (as the `postgres` user through runuser when we are root) in a temporary directory, on a free
loopback port, with fsync off; stopped and removed on exit whatever happened."""

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_bin():
    for directory in ["/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if os.access(f"{directory}/pg_ctl", os.X_OK) and os.access(f"{directory}/initdb", os.X_OK):
            return directory
    found = shutil.which("pg_ctl")
    if found:
        return str(Path(found).parent)
    raise SystemExit("PostgreSQL is not installed (pg_ctl, initdb): apt-get install postgresql")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STATEMENTS = os.environ.get("BENCH_PG_STATEMENTS")  # bench-only: where to write pg_stat_statements' top


class PrivatePostgres:
    def __init__(self):
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="leadsync-bench-pg-"))
        self.data, self.sock = self.root / "pg", self.root / "sock"
        self.port = _free_port()
        self.root.chmod(0o755)
        self.data.mkdir()
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
            shutil.chown(self.sock, "postgres")
        self.data.chmod(0o700)
        self._as_pg(f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        atexit.register(self.stop)
        self._as_pg(f"{self.bin}/pg_ctl", "-D", self.data, "-l", self.sock / "pg.log", "-w", "-t", "60", "-o",
                    f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off"
                    + (" -c shared_preload_libraries=pg_stat_statements" if STATEMENTS else ""), "start")
        if STATEMENTS:
            self.sql("CREATE EXTENSION pg_stat_statements")

    def _as_pg(self, *argv):
        argv = [str(a) for a in argv]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def sql(self, statement, database="postgres"):
        psql = f"{self.bin}/psql" if os.access(f"{self.bin}/psql", os.X_OK) else shutil.which("psql")
        self._as_pg(psql, "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", database,
                    "-v", "ON_ERROR_STOP=1", "-c", statement)

    def statements(self):
        """The statements that took the server's time (BENCH_PG_STATEMENTS=path: written there at stop)."""
        self.sql("COPY (SELECT round(total_exec_time::numeric, 1) AS ms, calls, rows, left(regexp_replace(query, "
                 "'\\s+', ' ', 'g'), 300) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 40) "
                 f"TO '{self.sock / 'statements.tsv'}'")
        shutil.copyfile(self.sock / "statements.tsv", STATEMENTS)

    def stop(self):
        if STATEMENTS and self.root.exists():
            self.statements()
        if self.root.exists():
            try:
                self._as_pg(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop")
            except subprocess.CalledProcessError:
                pass
            shutil.rmtree(self.root, ignore_errors=True)
