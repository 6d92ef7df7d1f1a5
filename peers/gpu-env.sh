# Sourced on the GPU host from the repository root (peers/README.md): unpacks the staged build
# and the peers' bundle carried in .peers/, and sets the environment verify-peers needs.
#   . peers/gpu-env.sh && peers/verify-peers $OUT/peers 300
export PYTHONUNBUFFERED=1 GDR_REQUIRE_GPU=1 CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
mkdir -p /tmp/site && tar -xJf .peers/bundle.tar.xz -C /tmp/site && tar -xJf .peers/stage.tar.xz || return 1
export PYTHONPATH=$PWD/build-stage/python:/tmp/site LD_LIBRARY_PATH=$PWD/build-stage/python/gdr_verify
export GDR_TOOL=$PWD/build-stage/tools/gdr/gdr PATH=$PWD/build-stage/tools/gdr:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
