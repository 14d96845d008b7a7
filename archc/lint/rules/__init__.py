"""The built-in lint rules, one module per rule or small family; each registers with `@rule`."""
from archc.lint.rules import depth  # noqa: F401
from archc.lint.rules import batch_norm  # noqa: F401
from archc.lint.rules import activation  # noqa: F401
from archc.lint.rules import attention  # noqa: F401
from archc.lint.rules import unused  # noqa: F401
from archc.lint.rules import widths  # noqa: F401
from archc.lint.rules import onnx  # noqa: F401
