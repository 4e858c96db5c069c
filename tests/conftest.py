from hypothesis import settings

# Property tests are deterministic (a fixed seed per test) and quick enough to run on every change.
settings.register_profile("qflow", derandomize=True, deadline=None, max_examples=150, print_blob=True)
settings.load_profile("qflow")
