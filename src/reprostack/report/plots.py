"""The offline page template of `dvc plots show` / `dvc plots diff`.

dvc-render's default page loads Vega, Vega-Lite and vega-embed from a CDN, so on a machine
without network it is blank (dvc#5679). DVC's remedy is a local template (`plots.html_template`
in .dvc/config, a path relative to .dvc/): this one carries vl-convert's bundle of the three
libraries inline and has no `{scripts}` placeholder, so DVC's CDN tags are never added.
The template is committed (a fresh clone renders offline with no step first);
`reprostack plots template` rewrites it, and a test checks it matches the installed vl-convert.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import jsonio

TEMPLATE = Path(".dvc") / "plots" / "offline.html"  # .dvc/config: html_template = plots/offline.html
CONFIG_VALUE = "plots/offline.html"

_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Vega {vega}, Vega-Lite {vegalite}, vega-embed {embed}: inline (vl-convert-python), nothing fetched -->
    <script>
BUNDLE
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def offline_template() -> str:
    import vl_convert

    versions = {
        "{vega}": vl_convert.get_vega_version(),
        "{vegalite}": vl_convert.get_vegalite_versions()[-1],
        "{embed}": vl_convert.get_vega_embed_version(),
    }
    page = _PAGE
    for key, value in versions.items():
        page = page.replace(key, value)
    # replaced last and by plain text: the bundle is never scanned for DVC's {placeholders}
    return page.replace("BUNDLE", vl_convert.javascript_bundle(), 1)


def write_template(root: str | Path = ".") -> Path:
    path = Path(root) / TEMPLATE
    path.parent.mkdir(parents=True, exist_ok=True)
    jsonio.atomic_write_text(path, offline_template())
    return path
