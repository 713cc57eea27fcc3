/* PreAct ResNet-18 (docs/METHOD.md section 2):
 *   conv1 3x3 (in -> w) ; layer1..layer4: two pre-activation blocks each with
 *   w, 2w, 4w, 8w planes and strides 1, 2, 2, 2 ; 4x4 average pool ; linear.
 * A block: out = conv1(relu(bn1(x))); out = conv2(relu(bn2(out))) + shortcut,
 * shortcut = x, or a 1x1 strided conv of the raw x when the shape changes.
 * Under --half_prec every convolution's output is stored in bfloat16, so the
 * batch norms, residual sums and the pool read bfloat16, as PyTorch's
 * autocast runs this model (docs/PERFORMANCE.md, "bfloat16 activations"). */
#include <stdio.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/error.h"
#include "nn/layers.h"
#include "nn/model_internal.h"

typedef struct {
  fa_bn_layer bn1, bn2;
  fa_conv_layer conv1, conv2;
  fa_conv_layer shortcut;  /* weight NULL when the shortcut is the identity */
} preact_block;

typedef struct {
  fa_conv_layer conv1;
  preact_block blocks[8];  /* layer{1..4}.{0,1} */
  fa_linear_layer linear;
} resnet18;

static fa_status block_make(preact_block *b, fa_store *s, const char *prefix, int in, int planes, int stride) {
  char name[64];
  fa_status st;
  snprintf(name, sizeof name, "%s.bn1", prefix);
  if ((st = fa_bn_layer_make(&b->bn1, s, name, in))) return st;
  snprintf(name, sizeof name, "%s.conv1", prefix);
  if ((st = fa_conv_layer_make(&b->conv1, s, name, in, planes, 3, stride, 1, false))) return st;
  snprintf(name, sizeof name, "%s.bn2", prefix);
  if ((st = fa_bn_layer_make(&b->bn2, s, name, planes))) return st;
  snprintf(name, sizeof name, "%s.conv2", prefix);
  if ((st = fa_conv_layer_make(&b->conv2, s, name, planes, planes, 3, 1, 1, false))) return st;
  b->shortcut.weight = NULL;
  if (stride != 1 || in != planes) {
    snprintf(name, sizeof name, "%s.shortcut.0", prefix);
    if ((st = fa_conv_layer_make(&b->shortcut, s, name, in, planes, 1, stride, 0, false))) return st;
  }
  b->conv1.bf16_output = b->conv2.bf16_output = b->shortcut.bf16_output = true;
  return FA_OK;
}

static fa_tensor *block_forward(const preact_block *b, fa_tensor *x, bool training) {
  fa_tensor *out = fa_conv_layer_forward(&b->conv1, fa_bn_relu_layer_forward(&b->bn1, x, training));
  out = fa_conv_layer_forward(&b->conv2, fa_bn_relu_layer_forward(&b->bn2, out, training));
  fa_tensor *shortcut = b->shortcut.weight ? fa_conv_layer_forward(&b->shortcut, x) : x;
  return fa_add_into(out, shortcut); /* out, conv2's output, is used by nothing else */
}

static fa_tensor *resnet18_forward(fa_model *model, fa_tensor *x, bool training) {
  const resnet18 *r = model->arch_data;
  fa_tensor *out = fa_conv_layer_forward(&r->conv1, x);
  for (int i = 0; i < 8; i++) {
    fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
    out = block_forward(&r->blocks[i], out, training);
    if (!fa_grad_enabled()) out = fa_tensor_keep_only(out, mark); /* nothing saved for a backward pass */
  }
  out = fa_avg_pool(out, 4);
  return fa_linear_layer_forward(&r->linear, fa_flatten(out));
}

fa_status fa_resnet18_check(const fa_model_config *c) {
  if (c->height != 32 || c->width != 32)
    return fa_error_set(FA_ERR_INVALID, "resnet18 takes 32x32 images, not %dx%d", c->height, c->width);
  return FA_OK;
}

fa_status fa_resnet18_build(fa_model *model) {
  const fa_model_config *c = &model->config;
  int w = c->resnet_width > 0 ? c->resnet_width : 64;
  resnet18 *r = calloc(1, sizeof *r);
  if (!r) return fa_error_set(FA_ERR_NOMEM, "out of memory creating resnet18");
  model->arch_data = r;
  model->forward = resnet18_forward;
  fa_status st = fa_conv_layer_make(&r->conv1, model->store, "conv1", c->in_channels, w, 3, 1, 1, false);
  r->conv1.bf16_output = true;
  int in = w;
  for (int stage = 0; stage < 4 && st == FA_OK; stage++) {
    int planes = w << stage;
    for (int j = 0; j < 2 && st == FA_OK; j++) {
      char prefix[32];
      snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, j);
      st = block_make(&r->blocks[2 * stage + j], model->store, prefix, in, planes, j == 0 && stage > 0 ? 2 : 1);
      in = planes;
    }
  }
  return st ? st : fa_linear_layer_make(&r->linear, model->store, "linear", 8 * w, c->n_classes);
}
