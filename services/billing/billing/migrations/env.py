from custops.migrations import run_env
from billing.models import metadata

run_env(metadata)
