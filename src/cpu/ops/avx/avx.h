/* avx.h — what the AVX family files share. */
#pragma once
#include "cpu/ops/host.h"
#include "cpu/ops/ops.h"
