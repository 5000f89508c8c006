"""The installed import names and the direction of imports between the four folders.

`pip install chuishao` installs one top-level package, `chuishao`; the folders api/, flows/, notifications/ and
models/ become its subpackages (pyproject.toml maps them). Imports point one way: api → flows → notifications →
models (api may also use the lower layers directly); nothing imports api, and models imports nothing of ours.
"""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"models": 0, "notifications": 1, "flows": 2, "api": 3}  # a folder may import from lower ranks only
GENERIC = set(FOLDERS)


def _sources():
    for folder in (*FOLDERS, "tests", "bench", "scripts", "chuishao"):
        yield from (p for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
    return names


def test_every_package_folder_is_installed_under_chuishao():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {folder: name for name, folder in config["package-dir"].items()}
    on_disk = {"chuishao"}
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).parts
            on_disk.add(".".join((mapped[rel[0]], *rel[1:])))
    assert on_disk == listed, f"pyproject.toml's packages differ from the tree: {sorted(on_disk ^ listed)}"
    assert not {n.split(".")[0] for n in listed} - {"chuishao"}, "only `chuishao` may be a top-level name"


def test_no_code_imports_the_folders_by_their_bare_names():
    bare = [f"{p.relative_to(ROOT)}:{line} imports {name}" for p in _sources() for line, name in _imported(p)
            if name.split(".")[0] in GENERIC]
    assert not bare, "import these as chuishao.<folder>:\n" + "\n".join(bare)


def test_imports_point_one_way():
    wrong = []
    for folder, rank in FOLDERS.items():
        for p in (ROOT / folder).rglob("*.py"):
            for line, name in _imported(p):
                parts = name.split(".")
                if parts[0] == "chuishao" and len(parts) > 1 and parts[1] in FOLDERS and FOLDERS[parts[1]] > rank:
                    wrong.append(f"{p.relative_to(ROOT)}:{line} ({folder}) imports {name}")
    assert not wrong, "a lower layer imports a higher one:\n" + "\n".join(wrong)
