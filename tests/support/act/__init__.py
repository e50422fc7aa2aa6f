"""Running a rendered project's workflows with act, and the scenarios built on that (README.md here)."""
