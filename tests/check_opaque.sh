#!/bin/sh
# The tensor struct is opaque outside src/core and src/backend
# (docs/ARCHITECTURE.md): code that includes only core/tensor.h, as every
# layer above core does, cannot touch a tensor's memory or fields; it
# compiles through the accessors alone. Each probe below is compiled with
# the project's compiler (syntax only):
#   - through the accessors: must compile;
#   - reading t->data, t->numel, t->shape, writing t->data: must not, and
#     the compiler must say why (an incomplete type);
#   - the same field reads with core/tensor_internal.h (core's own view):
#     must compile, so that the failures above are the opacity's.
#
#   tests/check_opaque.sh CC SRC_DIR
#
# Exit status 0 when all hold, 1 with a line per probe that did not.
set -u
cc=${1:?usage: check_opaque.sh CC SRC_DIR} src=${2:?usage: check_opaque.sh CC SRC_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# probe NAME HEADER BODY: writes and compiles a probe; its exit status
probe() {
  printf '#include "%s"\n%s\n' "$2" "$3" > "$tmp/$1.c"
  "$cc" -std=c11 -fsyntax-only -I "$src" "$tmp/$1.c" > "$tmp/$1.out" 2>&1
}

probe accessors core/tensor.h \
  'size_t f(const fa_tensor *t) { return fa_tensor_numel(t) + (size_t)fa_tensor_dim(t, 0) + fa_tensor_ndim(t); }' ||
  { echo "the accessors of core/tensor.h do not compile:"; cat "$tmp/accessors.out"; status=1; }

for body in 'float f(const fa_tensor *t) { return t->data[0]; }' \
            'size_t f(const fa_tensor *t) { return t->numel; }' \
            'int f(const fa_tensor *t) { return t->shape[0]; }' \
            'void f(fa_tensor *t) { t->data[0] = 1.0f; }'; do
  if probe above core/tensor.h "$body"; then
    echo "code that includes only core/tensor.h compiles with tensor memory or fields: $body"
    status=1
  elif ! grep -qi 'incomplete' "$tmp/above.out"; then
    echo "\"$body\" failed to compile, but not for the opaque type:"; cat "$tmp/above.out"; status=1
  fi
  probe core core/tensor_internal.h "$body" ||
    { echo "\"$body\" does not compile in core either:"; cat "$tmp/core.out"; status=1; }
done
[ $status -eq 0 ] && echo "fa_tensor is opaque to code that includes core/tensor.h alone"
exit $status
