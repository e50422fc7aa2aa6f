"""Running a rendered project's workflows with act (README.md here)."""
