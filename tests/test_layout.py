"""The repository's shape: packages listed, no shadowing script neighbours, a torch-free runtime."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"training": "sofp.training", "export": "sofp.export", "runtime": "sofp.runtime"}
# Third-party import names a module beside a script (python runtime/stream.py puts runtime/ on sys.path) must not take.
THIRD_PARTY = {"torch", "numpy", "cv2", "onnx", "onnxruntime", "tensorrt", "pycuda", "cuda", "sklearn", "skimage",
               "matplotlib", "tqdm", "openpyxl", "PIL", "datasets", "platform", "json", "csv", "logging", "types"}


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == listed


def test_no_module_shadows_a_third_party_import():
    for folder in FOLDERS:
        names = {p.stem for p in (ROOT / folder).glob("*.py")}
        names |= {p.name for p in (ROOT / folder).iterdir() if p.is_dir()}
        assert not names & THIRD_PARTY, f"{folder}/ holds {names & THIRD_PARTY}"


def test_runtime_imports_without_torch_or_training():
    code = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith(('torch.', 'sofp.training', 'sofp.export')):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import sofp.runtime\n"
        "for m in pkgutil.walk_packages(sofp.runtime.__path__, 'sofp.runtime.'):\n"
        "    if m.name.endswith(('.torch', '.torch_tvl1', '.tensorrt')):\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
