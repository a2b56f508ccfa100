"""Scale layer: sampling and scoring jobs over a run store (local now; Ray and adaptive later).

Imports torch through `supportscope.models` only when a job runs.
"""
