"""Pipeline stages: generate → split → train → evaluate, one module each, and what they share."""

from stages.cpu import pin_cpu_code_paths

# Here, because every stage and tool imports this package before it imports torch.
pin_cpu_code_paths()
