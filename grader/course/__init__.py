"""The course: its assignments and notebooks, its calendar (course.toml), and how results read.

Imports only the store (for per-student extensions). Everything above builds on it.
"""
