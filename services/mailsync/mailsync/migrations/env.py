from custops.migrations import run_env
from mailsync.models import metadata

run_env(metadata)
