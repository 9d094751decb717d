from custops.migrations import run_env
from timeline.models import metadata

run_env(metadata)
