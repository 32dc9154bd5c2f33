"""`reprostack ui`: a read-only local web view of the registry, the runs and the reports
(ui/site.py the pages, ui/server.py the loopback server and the static build)."""

from reprostack.ui.server import HOST, build, make_server
from reprostack.ui.site import Site

__all__ = ["HOST", "Site", "build", "make_server"]
