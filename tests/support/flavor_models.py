"""Models whose inputs only their flavor declares (issue 34): saved by real MLflow, without example or signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.models import pinned_requirements

WEIGHTS = [1.0, 2.0, 3.0]


def save_onnx_model(path: Path) -> Path:
    """y = features @ WEIGHTS: an ONNX graph whose input has a symbolic batch size ('batch', 3)."""
    import mlflow.onnx
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.array([[w] for w in WEIGHTS], dtype=np.float32), name="w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by any onnxruntime of the last years
    onnx.checker.check_model(model)
    requirements = [*pinned_requirements(), f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"]
    mlflow.onnx.save_model(model, str(path), pip_requirements=requirements)
    return path
