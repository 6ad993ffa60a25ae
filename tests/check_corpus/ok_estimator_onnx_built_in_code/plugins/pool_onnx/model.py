"""A tiny ONNX graph built in code (no weights file): 8 x 8 average pooling of the darkness of an image."""
import onnx
from onnx import TensorProto, helper


def darknessPoolModel() -> bytes:
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, None, None])
    pooled = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 1, None, None])
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8], ceil_mode=1),
    ]
    graph = helper.make_graph(nodes, "darkness_pool", [image], [pooled])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
