"""Imports every built-in op module (each registers its ops on import)."""
from archc.ops import conv  # noqa: F401
from archc.ops import tensor  # noqa: F401
from archc.ops import math  # noqa: F401
from archc.ops import linear  # noqa: F401
from archc.ops import pool  # noqa: F401
from archc.ops import resize  # noqa: F401
from archc.ops import norm  # noqa: F401
from archc.ops import regularize  # noqa: F401
from archc.ops import activation  # noqa: F401
from archc.ops import embedding  # noqa: F401
from archc.ops import attention  # noqa: F401
from archc.ops import recurrent  # noqa: F401
from archc.ops import index  # noqa: F401
from archc.ops import reduce  # noqa: F401
from archc.ops import layout  # noqa: F401
from archc.ops import einsum  # noqa: F401
from archc.ops import param  # noqa: F401
