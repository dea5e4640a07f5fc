"""A tiny npm registry on 127.0.0.1 serving the pinned ExifTool package: its version metadata at
``/<package>/<version>`` and the tarball at ``/-/<name>``; anything else is 404. Every request path is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exif_scrubber import exiftool_install

PIN = exiftool_install.read_pin()


class NpmRegistry:
    """The registry; ``barrier``: tarball requests are answered only once that many are waiting (so two downloads
    always overlap)."""

    def __init__(self, tarball: bytes = b"", *, barrier: threading.Barrier | None = None) -> None:
        self.tarball = tarball
        self.barrier = barrier
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                if self.path == f"/{PIN.package}/{PIN.npm_version}":
                    dist = {"tarball": f"{registry.url}/-/{PIN.tarball_name}"}
                    body = json.dumps({"name": PIN.package, "version": PIN.npm_version, "dist": dist}).encode()
                elif self.path == f"/-/{PIN.tarball_name}":
                    if registry.barrier is not None:
                        registry.barrier.wait()
                    body = registry.tarball
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serving(registry: NpmRegistry) -> Iterator[NpmRegistry]:
    """The registry answering requests until the block ends."""
    thread = threading.Thread(target=registry.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        registry.server.shutdown()
        registry.server.server_close()
