"""Debian's nginx in front of replicas, configured from the shipped example.

The test configuration is ``deploy/nginx/modelport.conf`` itself with only the replica
addresses and the listening port changed, so what is tested is what users copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "modelport.conf"


def nginx_binary() -> str:
    """The nginx binary, or skip the test saying how to get one."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )
    if found is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


def render(template: str, upstreams: list[int], port: int) -> str:
    """The example with its upstream ``server`` lines and ``listen`` port replaced."""
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in upstreams
    )
    block = r"(?:^ +server 127\.0\.0\.1:\d+ [^\n]*\n)+"
    text, count = re.subn(block, servers, template, flags=re.M)
    assert count == 1, "the example's upstream block changed shape"
    text, count = re.subn(r"listen \d+;", f"listen 127.0.0.1:{port};", text)
    assert count == 1, "the example's listen line changed shape"
    if os.geteuid() == 0:
        # nginx's workers would run as nobody, who cannot enter pytest's private temp dir
        text = "user root;\n" + text
    return text


@dataclass
class LoadBalancer:
    url: str
    prefix: Path
    process: subprocess.Popen[bytes]

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # nginx: fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nginx(prefix: Path, upstreams: list[int], port: int) -> LoadBalancer:
    """Run nginx in the foreground on ``port``; return once it answers."""
    binary = nginx_binary()
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(EXAMPLE.read_text(), upstreams, port))
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    out = (prefix / "nginx.out").open("wb")
    process = subprocess.Popen([*argv, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(prefix / 'logs' / 'error.log').read_text()}")
        try:
            if httpx.get(f"{url}/v2/health/live", timeout=2).status_code == 200:
                return LoadBalancer(url, prefix, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not answer in 30 s")
