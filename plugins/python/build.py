"""Builds each agent here (a folder with app.py) into dist/NAME.wasm:
`python3 build.py` for all, `python3 build.py echo` for some."""
import pathlib
import shutil
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
wit = here.parent.parent / "wit"
cli = shutil.which("componentize-py")
if cli is None:
    sys.exit("componentize-py is not installed: pip install -r requirements.txt")
names = sys.argv[1:] or sorted(p.parent.name for p in here.glob("*/app.py"))
(here / "dist").mkdir(exist_ok=True)
for name in names:
    out = here / "dist" / f"{name}.wasm"
    subprocess.run(
        [cli, "-d", str(wit), "-w", "agent", "componentize", "app",
         "-p", str(here / name), "-p", str(here), "-o", str(out)],
        check=True,
    )
    print(f"built {out}")
