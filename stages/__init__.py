"""Pipeline stages: generate → split → train → evaluate, one module each, and what they share."""
