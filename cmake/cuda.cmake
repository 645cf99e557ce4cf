# cuda.cmake — the CUDA backend (kernels/cuda/), included by the top-level
# CMakeLists.txt after convoy_kernels when CONVOY_HAVE_CUDA. Builds the
# convoy_cuda static library (own kernels in .cu, the backend in C), links
# cudart, cuBLAS, cuFFT and (optionally) cuDNN, and hooks it into
# convoy_kernels with the PUBLIC define CONVOY_HAVE_CUDA.
#
# Libraries are looked up in the toolkit first, then in CONVOY_CUDA_LIB_HINTS
# (folders with lib/ and include/, e.g. pip's site-packages/nvidia/cu13) and
# $CUDNN_ROOT: the GPU check machine has cuBLAS/cuFFT/cuDNN only as pip wheels.

# sm_80 (A100) and sm_90 (H100/H200) machine code, plus sm_90 PTX for newer GPUs.
if(NOT CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual" CACHE STRING "CUDA architectures" FORCE)
endif()
# one CUDA runtime: the shared libcudart that CUDA::cudart names, not CMake's static default
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

set(CONVOY_CUDA_LIB_HINTS "" CACHE STRING "extra roots (with lib/ and include/) for cuBLAS, cuFFT, cuDNN")
set(_cv_hints ${CONVOY_CUDA_LIB_HINTS})
if(DEFINED ENV{CUDNN_ROOT})
  list(APPEND _cv_hints $ENV{CUDNN_ROOT})
endif()

# convoy_find_cuda_lib(VAR header name…): an IMPORTED target convoy_<VAR>,
# from the toolkit's CUDA::<first name> or found by file name in the hints.
function(convoy_find_cuda_lib var header)
  set(names ${ARGN})
  list(GET names 0 first)
  if(TARGET CUDA::${first})
    add_library(convoy_${var} INTERFACE)
    target_link_libraries(convoy_${var} INTERFACE CUDA::${first})
    set(CONVOY_HAVE_${var} ON PARENT_SCOPE)
    message(STATUS "convoy: ${var} from the CUDA toolkit")
    return()
  endif()
  find_library(CONVOY_${var}_LIBRARY NAMES ${names}
    HINTS ${_cv_hints} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64)
  find_path(CONVOY_${var}_INCLUDE_DIR ${header}
    HINTS ${_cv_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  if(CONVOY_${var}_LIBRARY AND CONVOY_${var}_INCLUDE_DIR)
    add_library(convoy_${var} INTERFACE)
    target_include_directories(convoy_${var} INTERFACE ${CONVOY_${var}_INCLUDE_DIR})
    target_link_libraries(convoy_${var} INTERFACE ${CONVOY_${var}_LIBRARY})
    set(CONVOY_HAVE_${var} ON PARENT_SCOPE)
    message(STATUS "convoy: ${var} ${CONVOY_${var}_LIBRARY}")
  else()
    set(CONVOY_HAVE_${var} OFF PARENT_SCOPE)
    message(STATUS "convoy: ${var} not found; built without it")
  endif()
endfunction()

# cuBLAS (pointwise and kernel == stride conv as GEMM), cuFFT (FFT conv for
# large kernels), cuDNN (graph API conv and depth-tap; pip ships only
# libcudnn.so.9: found by its full name). Each is optional: without it the
# build defines no CONVOY_HAVE_<LIB> and that conv candidate is off.
convoy_find_cuda_lib(CUBLAS cublas_v2.h cublas libcublas.so.13)
convoy_find_cuda_lib(CUFFT cufft.h cufft libcufft.so.12)
convoy_find_cuda_lib(CUDNN cudnn.h cudnn libcudnn.so.9)

add_library(convoy_cuda STATIC
  kernels/cuda/backend_cuda.c
  kernels/cuda/run_cuda.c
  kernels/cuda/nvml.c
  kernels/cuda/filter.cu
  kernels/cuda/dwt.cu
  kernels/cuda/idwt.cu
  kernels/cuda/sepconv.cu
  kernels/cuda/conv.cu
  kernels/cuda/conv_fft.cu
  kernels/cuda/conv_cudnn.c
)
target_include_directories(convoy_cuda PUBLIC ${CMAKE_SOURCE_DIR})
# C flags reach only the C files (convoy_flags is language-guarded); nvcc gets its own.
target_compile_options(convoy_cuda PRIVATE
  "$<$<COMPILE_LANGUAGE:CUDA>:-lineinfo;--expt-relaxed-constexpr;-Xcompiler=-Wall>"
  "$<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<CONFIG:Release>>:-O3>")
target_link_libraries(convoy_cuda PUBLIC convoy_flags CUDA::cudart ${CMAKE_DL_LIBS})
foreach(lib CUBLAS CUFFT CUDNN)
  if(CONVOY_HAVE_${lib})
    target_link_libraries(convoy_cuda PUBLIC convoy_${lib})
    target_compile_definitions(convoy_cuda PRIVATE CONVOY_HAVE_${lib})
  endif()
endforeach()
# the backend calls back into convoy_kernels (errors, dwt math): a static cycle
target_link_libraries(convoy_cuda PRIVATE convoy_kernels)
target_link_libraries(convoy_kernels PUBLIC convoy_cuda)
target_compile_definitions(convoy_kernels PUBLIC CONVOY_HAVE_CUDA)
# convoy_kernels was created before CUDA was enabled: give it the architectures too
set_target_properties(convoy_kernels PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
