from custops.migrations import run_env
from customers.models import metadata

run_env(metadata)
