from envforge.cli import run

run()
