"""The kgan Gradio demo: `python apps/demo.py [--model EXPORT_DIR] [--port 7860]`.

The same app as `kgan demo`; it lives in `kgan.demo` so that an installed kgan has it.
It imports kgan.runtime.inference (onnxruntime) and gradio, never TensorFlow or Keras.
"""

import sys

from kgan.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
