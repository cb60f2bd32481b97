"""Old import paths of moved modules: `import kgan.inference` still works, warns, and gives
`kgan.runtime.inference` itself (one module object, so state and patches are shared)."""

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

MOVED = {
    "kgan.calibration": "kgan.runtime.calibration",
    "kgan.images": "kgan.runtime.images",
    "kgan.inference": "kgan.runtime.inference",
    "kgan.labels": "kgan.runtime.labels",
    "kgan.latent": "kgan.runtime.latent",
    "kgan.samplers": "kgan.runtime.samplers",
    "kgan.samples": "kgan.runtime.samples",
    "kgan.metrics": "kgan.runtime.metrics",
    **{f"kgan.metrics.{name}": f"kgan.runtime.metrics.{name}"
       for name in ("frechet", "kernel", "manifold", "modes", "text", "video")},
    "kgan.metrics.features": "kgan.features",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name in MOVED:
            return importlib.machinery.ModuleSpec(name, self, is_package=name == "kgan.metrics")
        return None

    def create_module(self, spec):
        new = MOVED[spec.name]
        # stacklevel 2: the importing line (the import machinery's own frames are skipped)
        warnings.warn(f"{spec.name} moved to {new}: import it from there", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


def install():
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
