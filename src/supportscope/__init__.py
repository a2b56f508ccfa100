"""supportscope: did post-training elicit a capability the base model had, or create one?

Layers (dependencies point down only), see DESIGN.md section 5:
cli -> pipeline -> report -> analysis | scale | organism -> models | tasks -> store -> io -> stats (docs/DESIGN.md section 5). ``stats`` is pure numpy/scipy.
"""

__version__ = "0.1.0"
