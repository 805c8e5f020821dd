"""A throwaway certificate authority and broker certificate, made as docs/security.md says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def make_tls(directory: Path) -> None:
    """A throwaway CA and a broker certificate for localhost, as docs/security.md says."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed: apt-get install -y openssl"
    directory.mkdir()

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=yizhan test CA", "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "broker.key", "-out", "broker.csr")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.crt")  # fmt: skip
