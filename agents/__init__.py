"""Reference agents, and mutants with planted resilience bugs that the harness must catch."""
