"""INT8 models: post-training quantization with NNCF, calibrated on the user's own images, cached by weights.

- ``cache``: INT8 models on disk, keyed by weights SHA-256, preprocessing and calibration set, and the one
  writer of their ``int8.json`` (training's export uses it too);
- ``quantize``: quantizing an OpenVINO classifier and checking it against fp32;
- ``calibration``: calibration images from a folder, and building or reusing the INT8 model;
- ``select``: which INT8 model a classifier may use.
"""

from __future__ import annotations
