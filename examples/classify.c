/* examples/classify.c — the whole flow by hand, with the public API only: load a tokenizer and a
 * sequence-classification model from one folder, tokenize a text, run the model, and take the
 * argmax of the logits as the label (what `automodel classify` does, minus the pipeline).
 *
 * Against an installed automodel (`cmake --install build --prefix PREFIX`; see README.md):
 *   cc examples/classify.c $(pkg-config --cflags --libs automodel) -lm -Wl,-rpath,PREFIX/lib -o classify
 *   ./classify models/sms-spam-bert "Free prize! Call now"
 * (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system one.) Straight from the build tree:
 *   cc examples/classify.c -Iinclude -Lbuild -lautomodel -lm -Wl,-rpath,build -o classify
 */
#include "automodel.h"
#include <math.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TEXT\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *text = argv[2];
    am_tokenizer *tok = am_tokenizer_from_pretrained(dir);
    am_model *model = tok ? am_model_from_pretrained(AM_TASK_SEQUENCE_CLASSIFICATION, dir, NULL) : NULL;
    if (!model) {
        fprintf(stderr, "error: %s\n", am_last_error());
        am_tokenizer_free(tok);
        return 1;
    }

    /* tokenizer(text, truncation=True, return_tensors="pt") */
    am_encode_options eo = am_encode_options_default();
    eo.truncation = AM_TRUNCATION_LONGEST_FIRST; /* up to model_max_length */
    am_tensors *inputs = am_tokenizer_encode_tensors(tok, 1, &text, NULL, &eo);
    /* model(**inputs).logits */
    am_tensors *outputs = inputs ? am_model_forward(model, inputs, NULL) : NULL;
    int rc = 1;
    if (outputs) {
        const am_tensor *logits = am_tensors_get(outputs, "logits");
        const float *l = am_tensor_cdata(logits);
        int64_t n = am_tensor_dim(logits, -1);
        int best = 0;
        for (int i = 1; i < n; i++)
            if (l[i] > l[best]) best = i;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += exp((double)l[i] - l[best]);
        printf("%s (probability %.4f; logits", am_config_id2label(am_model_config(model), best), 1.0 / sum);
        for (int i = 0; i < n; i++) printf(" %.4f", l[i]);
        printf(")\n");
        rc = 0;
    } else
        fprintf(stderr, "error: %s\n", am_last_error());
    am_tensors_free(outputs);
    am_tensors_free(inputs);
    am_model_free(model);
    am_tokenizer_free(tok);
    return rc;
}
