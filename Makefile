.PHONY: lab test bench clean

lab:
	python3 tasks.py lab

test:
	python3 tasks.py test

bench:
	python3 tasks.py bench

clean:
	rm -rf .venv .pytest_cache .hypothesis .ruff_cache test-artifacts build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
