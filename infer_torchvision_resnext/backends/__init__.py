"""Where a model runs: the backend protocol, eager torch, OpenVINO, and choosing one.

- ``protocol``: what every backend offers (:class:`Backend`) and the choice it runs with;
- ``torch_backend``: eager torch on CPU or CUDA (BN folded, channels_last, bf16/fp16);
- ``_openvino_config``: CPU plugin properties every OpenVINO compile uses;
- ``_openvino_modes``: which performance hint serves a call, and its compiled model;
- ``openvino_backend``: OpenVINO on CPU (uint8 NHWC in, mean/std in the graph, cached conversion);
- ``choice``: which backend and precision run a model (this plugin's INT8 rule for ``auto``), and building it.
"""

from __future__ import annotations
