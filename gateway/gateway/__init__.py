"""custops HTTP gateway: authenticates, authorises, validates the shape of input, calls services
over RPC and shapes their answers. It holds no business logic."""
import warnings

# nameko (through custops.rpc) imports eventlet, which warns once per process; the gateway does not
# run on eventlet (gunicorn gthread workers), so the warning is noise here
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
