"""The ground floor: errors, settings (key=value policy, presets), atomic writes, memory
estimates, CPU threads. Imports no torch, numpy or pandas at import time, so the UI may
import it directly."""
