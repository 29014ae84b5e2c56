"""What the tests share: the runner of Kiln's command line, project writers, tool checks, helpers per installer kind.

No test module imports another test module: what two tests need lives here (imported as `kit.<module>`).
"""
