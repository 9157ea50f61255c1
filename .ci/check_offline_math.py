"""Check that a built HTML site renders its math offline.

Usage: python .ci/check_offline_math.py BUILD_DIR

Every page that holds math must load MathJax from the site itself: a relative script
address to a file that is there, and no script, of any page, from another host.
Exits non-zero, naming the page, when that fails.
"""

import re
import sys
from pathlib import Path

SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def main(build_dir):
    pages = sorted(Path(build_dir).rglob("*.html"))
    problems, pages_with_math = [], 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        sources = SCRIPT.findall(html)
        problems += [f"{page}: script from another host: {source}"
                     for source in sources if REMOTE.match(source)]
        if 'class="math' not in html:
            continue
        pages_with_math += 1
        mathjax = [source for source in sources if "mathjax" in source.lower()]
        if not mathjax:
            problems.append(f"{page}: has math but loads no MathJax")
        for source in mathjax:
            local = page.parent / source.split("?")[0]
            if REMOTE.match(source) or not local.is_file() or local.stat().st_size < 100_000:
                problems.append(f"{page}: MathJax script {source} is not a local file")
    if pages_with_math == 0:
        problems.append(f"no page under {build_dir} has math: is it the built site?")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(pages)} pages, {pages_with_math} with math: "
          f"{'MathJax local on every one' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
