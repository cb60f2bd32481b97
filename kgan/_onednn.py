"""oneDNN's CPU kernels for TensorFlow on every x86 CPU, not only on those TensorFlow picks.

TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX-512 VNNI, BF16 or AMX; on
others (AVX2-only ones, such as AMD's Zen 3) it runs Eigen's, unless `TF_ENABLE_ONEDNN_OPTS=1` is
set before its import. Eigen's are far slower for GANs: on an AVX2-only EPYC, the gradient of a
strided `Conv3D` (16 clips of 16 x 16 x 16 x 16, 32 filters of 4 x 4 x 4) took 2,176 ms against
oneDNN's 29 ms, a `Conv2D`'s (64 x 16 x 16 x 32, 64 filters of 4 x 4) 15.4 ms against 10.3, and a
`digits` preset step 1.9 times as long (`python benchmarks/onednn.py`). So `import kgan` asks for
them, as the user would, unless the user chose (`TF_ENABLE_ONEDNN_OPTS` is set) or TensorFlow is
imported already (then the variable has no effect). No TensorFlow here: this module only sets the
variable TensorFlow reads at its import.
"""

import os
import sys

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def install():
    """Sets `TF_ENABLE_ONEDNN_OPTS=1` for this process and its children, where the user left it
    unset and TensorFlow is not imported yet. Returns whether it did."""
    if VARIABLE in os.environ or "tensorflow" in sys.modules:
        return False
    os.environ[VARIABLE] = "1"
    return True
