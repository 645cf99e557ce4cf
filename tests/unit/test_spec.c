/* test_spec.c — proto/spec: a row table of specs with the expected error code
 * and field path (every field, every error path, inline tensors of every
 * dtype), values of parsed structs, and the x-npy query form. JSON in the
 * tables uses ' for " (swapped before parsing). Encoding: test_tensor_json.c. */
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../proto/json_arena.h"
#include "../../proto/spec.h"
#include "../../proto/tensor_json.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* the runner's children end in _exit, which skips LeakSanitizer: ask now */
#define LEAK_CHECK() CV_ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

#define LIMIT_BYTES (1u << 20)   /* max_tensor_bytes in these tests: 1 MiB */

static const cv_spec_limits_t LIM = {.max_tensor_bytes = LIMIT_BYTES};

static char *dq(const char *s) {   /* ' → " */
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'') *p = '"';
  return d;
}

/* Parses s (with ' for ") and checks rc and field; returns rc. */
static int parse_check(const char *s, int code, const char *field, cv_spec_t *out, const char *where) {
  char *j = dq(s);
  cv_error_t e;
  cv_error_clear(&e);
  int rc = cv_spec_parse(j, strlen(j), &LIM, out, &e);
  if (rc != -code || (code && strcmp(e.field, field)))
    CV_FAIL_("%s: %.300s\n#   got rc %d (%s) field \"%s\" (%s); want %s field \"%s\"", where, j, rc,
             cv_err_name(rc), e.field, e.message, cv_err_name(code), field);
  if (rc) {   /* a failed parse leaves nothing behind */
    CV_ASSERT_EQ(out->n_inputs, 0);
    CV_ASSERT(out->inputs == NULL && out->select == NULL && out->output_path == NULL);
  }
  free(j);
  return rc;
}

typedef struct row_s {
  const char *json;
  int code;   /* CV_OK or CV_E… */
  const char *field;
} row_t;

#define OK(j) {j, CV_OK, ""}
#define BAD(j, c, f) {j, CV_E##c, f}

static const row_t ROWS[] = {
    /* ---- op, JSON, keys ---- */
    OK("{'op':'dwt','wavelet':'db4'}"),
    OK("{'op':'DWT','wavelet':'db4'}  \n"),
    BAD("{'wavelet':'db4'}", INVALID_ARGUMENT, "op"),
    BAD("{'op':5,'wavelet':'db4'}", INVALID_ARGUMENT, "op"),
    BAD("{'op':null}", INVALID_ARGUMENT, "op"),
    BAD("{'op':'fft'}", UNSUPPORTED_OP, "op"),
    BAD("{", INVALID_JSON, ""),
    BAD("", INVALID_JSON, ""),
    BAD("[1,2]", INVALID_JSON, ""),
    BAD("null", INVALID_JSON, ""),
    BAD("'dwt'", INVALID_JSON, ""),
    BAD("{'op':'dwt','wavelet':'db4'} x", INVALID_JSON, ""),
    BAD("{'op':'dwt','wavelet':'db4'}{}", INVALID_JSON, ""),
    BAD("{'op':'dwt','wavelet':'db4','levle':3}", INVALID_ARGUMENT, "levle"),
    BAD("{'op':'dwt','op':'dwt','wavelet':'db4'}", INVALID_ARGUMENT, "op"),
    BAD("{'op':'dwt','wavelet':'db4','level':1,'level':2}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'db4','Level':2}", INVALID_ARGUMENT, "Level"),
    /* ---- dwt / idwt ---- */
    OK("{'op':'dwt','wavelet':'DB4','mode':'SYM','level':3,'axes':[0,1,2]}"),
    OK("{'op':'dwt','wavelet':'haar','level':3.0}"),
    OK("{'op':'dwt','wavelet':'haar','level':null,'axes':null,'mode':null}"),
    OK("{'op':'dwt','wavelet':'haar','level':0}"),
    BAD("{'op':'dwt','wavelet':'haar','level':'3'}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':-1}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':1.5}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':true}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':1e300}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':1e400}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt','wavelet':'haar','level':[1]}", INVALID_ARGUMENT, "level"),
    BAD("{'op':'dwt'}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'idwt','wavelet':null}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'dwt','wavelet':'db99'}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'dwt','wavelet':5}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'dwt','wavelet':[]}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'dwt','wavelet':['db1','xx']}", INVALID_ARGUMENT, "wavelet[1]"),
    BAD("{'op':'dwt','wavelet':[['db1']]}", INVALID_ARGUMENT, "wavelet[0]"),
    BAD("{'op':'dwt','wavelet':['a','b','c','d','e','f','g','h','i']}", INVALID_ARGUMENT, "wavelet"),
    OK("{'op':'dwt','wavelet':['db1','Haar','sym5']}"),
    OK("{'op':'dwt','wavelet':{'dec_lo':[1,1],'dec_hi':[1,-1],'rec_lo':[1,1],'rec_hi':[-1,1]}}"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1,1],'dec_hi':[1,-1],'rec_lo':[1,1]}}", INVALID_ARGUMENT, "wavelet.rec_hi"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1,1],'dec_hi':[1,-1,2],'rec_lo':[1,1],'rec_hi':[-1,1]}}",
        INVALID_ARGUMENT, "wavelet.dec_hi"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1,1],'dec_hi':[1,-1],'rec_lo':[1,1],'rec_hi':[-1,1],'foo':1}}",
        INVALID_ARGUMENT, "wavelet.foo"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1,'a'],'dec_hi':[1,-1],'rec_lo':[1,1],'rec_hi':[-1,1]}}",
        INVALID_ARGUMENT, "wavelet.dec_lo[1]"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1],'dec_hi':[1],'rec_lo':[1],'rec_hi':[1]}}", INVALID_ARGUMENT,
        "wavelet.dec_lo"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':[1,1e999],'dec_hi':[1,1],'rec_lo':[1,1],'rec_hi':[1,1]}}",
        INVALID_ARGUMENT, "wavelet.dec_lo[1]"),
    BAD("{'op':'dwt','wavelet':{'dec_lo':5,'dec_hi':[1,1],'rec_lo':[1,1],'rec_hi':[1,1]}}", INVALID_ARGUMENT,
        "wavelet.dec_lo"),
    BAD("{'op':'dwt','wavelet':['haar',{'dec_lo':[1,1],'dec_hi':[1],'rec_lo':[1,1],'rec_hi':[1,1]}]}",
        INVALID_ARGUMENT, "wavelet[1].dec_hi"),
    OK("{'op':'dwt','wavelet':'haar','mode':'periodization'}"),
    OK("{'op':'dwt','wavelet':'haar','mode':['per','ppd','Zero']}"),
    BAD("{'op':'dwt','wavelet':'haar','mode':'bogus'}", INVALID_ARGUMENT, "mode"),
    BAD("{'op':'dwt','wavelet':'haar','mode':['zero','bad']}", INVALID_ARGUMENT, "mode[1]"),
    BAD("{'op':'dwt','wavelet':'haar','mode':3}", INVALID_ARGUMENT, "mode"),
    BAD("{'op':'dwt','wavelet':'haar','mode':[]}", INVALID_ARGUMENT, "mode"),
    OK("{'op':'dwt','wavelet':'haar','axes':-1}"),
    OK("{'op':'dwt','wavelet':'haar','axes':[2,0]}"),
    BAD("{'op':'dwt','wavelet':'haar','axes':[0,'1']}", INVALID_ARGUMENT, "axes[1]"),
    BAD("{'op':'dwt','wavelet':'haar','axes':'all'}", INVALID_ARGUMENT, "axes"),
    BAD("{'op':'dwt','wavelet':'haar','axes':[1.5]}", INVALID_ARGUMENT, "axes[0]"),
    BAD("{'op':'dwt','wavelet':'haar','shape':[4]}", INVALID_ARGUMENT, "shape"),
    BAD("{'op':'dwt','wavelet':'haar','filters':[]}", INVALID_ARGUMENT, "filters"),
    BAD("{'op':'dwt','wavelet':'haar','stride':2}", INVALID_ARGUMENT, "stride"),
    OK("{'op':'idwt','wavelet':'haar','shape':[5,7],'level':2,'axes':[0,1]}"),
    OK("{'op':'idwt','wavelet':'haar','shape':null}"),
    BAD("{'op':'idwt','wavelet':'haar','shape':[-1]}", INVALID_ARGUMENT, "shape[0]"),
    BAD("{'op':'idwt','wavelet':'haar','shape':[]}", INVALID_ARGUMENT, "shape"),
    BAD("{'op':'idwt','wavelet':'haar','shape':5}", INVALID_ARGUMENT, "shape"),
    BAD("{'op':'idwt','wavelet':'haar','shape':[5,'7']}", INVALID_ARGUMENT, "shape[1]"),
    /* ---- sepconv ---- */
    OK("{'op':'sepconv','filters':[{'axis':0,'taps':[0.5,0.5],'stride':2}]}"),
    OK("{'op':'sepconv','flip':true,'filters':[{'axis':-1,'taps':[1],'padding':'SAME','mode':'reflect',"
       "'flip':false,'dilation':2},{'axis':1,'taps':[1,2,3],'padding':[1,2]},{'axis':2,'taps':[1],'padding':3}]}"),
    BAD("{'op':'sepconv'}", INVALID_ARGUMENT, "filters"),
    BAD("{'op':'sepconv','filters':[]}", INVALID_ARGUMENT, "filters"),
    BAD("{'op':'sepconv','filters':{}}", INVALID_ARGUMENT, "filters"),
    BAD("{'op':'sepconv','filters':'0:1,1'}", INVALID_ARGUMENT, "filters"),
    BAD("{'op':'sepconv','filters':[5]}", INVALID_ARGUMENT, "filters[0]"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'tapz':[1]}]}", INVALID_ARGUMENT, "filters[0].tapz"),
    BAD("{'op':'sepconv','filters':[{'axis':0}]}", INVALID_ARGUMENT, "filters[0].taps"),
    BAD("{'op':'sepconv','filters':[{'taps':[1]}]}", INVALID_ARGUMENT, "filters[0].axis"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[]}]}", INVALID_ARGUMENT, "filters[0].taps"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':['a']}]}", INVALID_ARGUMENT, "filters[0].taps[0]"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'stride':0}]}", INVALID_ARGUMENT, "filters[0].stride"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'dilation':'2'}]}", INVALID_ARGUMENT,
        "filters[0].dilation"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'padding':[1]}]}", INVALID_ARGUMENT,
        "filters[0].padding"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'padding':-1}]}", INVALID_ARGUMENT,
        "filters[0].padding"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'padding':'full'}]}", INVALID_ARGUMENT,
        "filters[0].padding"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'padding':[1,-2]}]}", INVALID_ARGUMENT,
        "filters[0].padding[1]"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'mode':'periodization'}]}", INVALID_ARGUMENT,
        "filters[0].mode"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'mode':'wrap'}]}", INVALID_ARGUMENT, "filters[0].mode"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'flip':1}]}", INVALID_ARGUMENT, "filters[0].flip"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1],'axis':1}]}", INVALID_ARGUMENT, "filters[0].axis"),
    BAD("{'op':'sepconv','filters':[{'axis':'0','taps':[1]}]}", INVALID_ARGUMENT, "filters[0].axis"),
    BAD("{'op':'sepconv','flip':'yes','filters':[{'axis':0,'taps':[1]}]}", INVALID_ARGUMENT, "flip"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1]},{'axis':1,'taps':[1]},{'axis':2,'taps':[1,null]}]}",
        INVALID_ARGUMENT, "filters[2].taps[1]"),
    BAD("{'op':'sepconv','filters':[{'axis':0,'taps':[1]}],'wavelet':'haar'}", INVALID_ARGUMENT, "wavelet"),
    /* ---- conv ---- */
    OK("{'op':'conv'}"),
    OK("{'op':'conv','stride':2,'dilation':[1,2],'padding':'same','groups':2.0,'padding_mode':'Circular',"
       "'flip':true,'layout':'NDHWC','algo':'GEMM','precision':'tf32'}"),
    OK("{'op':'conv','padding':1}"),
    OK("{'op':'conv','padding':[1,2]}"),
    OK("{'op':'conv','padding':[[1,2],[0,0]]}"),
    OK("{'op':'conv','padding':[1,[2,3]]}"),
    OK("{'op':'conv','padding':'VALID','layout':'nhwc'}"),
    OK("{'op':'conv','stride':null,'padding':null,'groups':null,'layout':null,'algo':null}"),
    BAD("{'op':'conv','stride':[1,2,3,4]}", INVALID_ARGUMENT, "stride"),
    BAD("{'op':'conv','stride':[]}", INVALID_ARGUMENT, "stride"),
    BAD("{'op':'conv','stride':0}", INVALID_ARGUMENT, "stride"),
    BAD("{'op':'conv','stride':[1,0]}", INVALID_ARGUMENT, "stride[1]"),
    BAD("{'op':'conv','stride':'2'}", INVALID_ARGUMENT, "stride"),
    BAD("{'op':'conv','dilation':[1,'2']}", INVALID_ARGUMENT, "dilation[1]"),
    BAD("{'op':'conv','padding':[[1,2,3]]}", INVALID_ARGUMENT, "padding[0]"),
    BAD("{'op':'conv','padding':[-1]}", INVALID_ARGUMENT, "padding[0]"),
    BAD("{'op':'conv','padding':[[1,-1]]}", INVALID_ARGUMENT, "padding[0][1]"),
    BAD("{'op':'conv','padding':'full'}", INVALID_ARGUMENT, "padding"),
    BAD("{'op':'conv','padding':true}", INVALID_ARGUMENT, "padding"),
    BAD("{'op':'conv','padding':[]}", INVALID_ARGUMENT, "padding"),
    BAD("{'op':'conv','padding':-2}", INVALID_ARGUMENT, "padding"),
    BAD("{'op':'conv','padding':[1,2,3,4]}", INVALID_ARGUMENT, "padding"),
    BAD("{'op':'conv','groups':0}", INVALID_ARGUMENT, "groups"),
    BAD("{'op':'conv','groups':'2'}", INVALID_ARGUMENT, "groups"),
    BAD("{'op':'conv','padding_mode':'mirror'}", INVALID_ARGUMENT, "padding_mode"),
    BAD("{'op':'conv','padding_mode':0}", INVALID_ARGUMENT, "padding_mode"),
    BAD("{'op':'conv','flip':'true'}", INVALID_ARGUMENT, "flip"),
    BAD("{'op':'conv','layout':'cl'}", INVALID_ARGUMENT, "layout"),
    BAD("{'op':'conv','algo':'winograd'}", INVALID_ARGUMENT, "algo"),
    BAD("{'op':'conv','precision':'half'}", INVALID_ARGUMENT, "precision"),
    BAD("{'op':'conv','wavelet':'haar'}", INVALID_ARGUMENT, "wavelet"),
    BAD("{'op':'conv','filters':[]}", INVALID_ARGUMENT, "filters"),
    /* ---- common fields ---- */
    OK("{'op':'conv','priority':0,'timeout_ms':1000,'async':true,'keep':false,'result_encoding':'B64'}"),
    OK("{'op':'conv','priority':9.0,'timeout_ms':0,'precision':'highest'}"),
    OK("{'op':'conv','priority':null,'timeout_ms':null,'async':null,'keep':null,'result_encoding':null,"
       "'select':null,'output':null,'inputs':null,'precision':null}"),
    BAD("{'op':'conv','priority':10}", INVALID_ARGUMENT, "priority"),
    BAD("{'op':'conv','priority':-1}", INVALID_ARGUMENT, "priority"),
    BAD("{'op':'conv','priority':'5'}", INVALID_ARGUMENT, "priority"),
    BAD("{'op':'conv','timeout_ms':-5}", INVALID_ARGUMENT, "timeout_ms"),
    BAD("{'op':'conv','timeout_ms':0.5}", INVALID_ARGUMENT, "timeout_ms"),
    BAD("{'op':'conv','async':'true'}", INVALID_ARGUMENT, "async"),
    BAD("{'op':'conv','async':1}", INVALID_ARGUMENT, "async"),
    BAD("{'op':'conv','keep':[]}", INVALID_ARGUMENT, "keep"),
    BAD("{'op':'conv','result_encoding':'xml'}", INVALID_ARGUMENT, "result_encoding"),
    OK("{'op':'dwt','wavelet':'haar','select':['a','d1_ddd']}"),
    BAD("{'op':'conv','select':'y'}", INVALID_ARGUMENT, "select"),
    BAD("{'op':'conv','select':[]}", INVALID_ARGUMENT, "select"),
    BAD("{'op':'conv','select':[1]}", INVALID_ARGUMENT, "select[0]"),
    BAD("{'op':'conv','select':['y','y']}", INVALID_ARGUMENT, "select[1]"),
    BAD("{'op':'conv','select':['y','bad name']}", INVALID_ARGUMENT, "select[1]"),
    BAD("{'op':'conv','select':['0123456789012345678901234567890123']}", INVALID_ARGUMENT, "select[0]"),
    /* ---- output ---- */
    OK("{'op':'conv','output':{'path':'run1/out.npz'}}"),
    OK("{'op':'conv','output':{'dir':'run1/','format':'npy','overwrite':true}}"),
    OK("{'op':'conv','output':{'dir':'run1','format':'NPZ'}}"),
    OK("{'op':'conv','output':{'path':'a..b/c.npz','format':'npz','overwrite':null}}"),
    BAD("{'op':'conv','output':{'pth':'x'}}", INVALID_ARGUMENT, "output.pth"),
    BAD("{'op':'conv','output':{}}", INVALID_ARGUMENT, "output"),
    BAD("{'op':'conv','output':'run1/out.npz'}", INVALID_ARGUMENT, "output"),
    BAD("{'op':'conv','output':{'path':'a','dir':'b'}}", INVALID_ARGUMENT, "output"),
    BAD("{'op':'conv','output':{'path':'/abs/x.npz'}}", INVALID_ARGUMENT, "output.path"),
    BAD("{'op':'conv','output':{'path':'../x.npz'}}", INVALID_ARGUMENT, "output.path"),
    BAD("{'op':'conv','output':{'path':'a/../../x.npz'}}", INVALID_ARGUMENT, "output.path"),
    BAD("{'op':'conv','output':{'dir':'a/..'}}", INVALID_ARGUMENT, "output.dir"),
    BAD("{'op':'conv','output':{'dir':'a\\\\..\\\\..'}}", INVALID_ARGUMENT, "output.dir"),
    BAD("{'op':'conv','output':{'path':''}}", INVALID_ARGUMENT, "output.path"),
    BAD("{'op':'conv','output':{'path':5}}", INVALID_ARGUMENT, "output.path"),
    BAD("{'op':'conv','output':{'dir':'d','format':'csv'}}", INVALID_ARGUMENT, "output.format"),
    BAD("{'op':'conv','output':{'path':'a.npz','format':'npy'}}", INVALID_ARGUMENT, "output.format"),
    BAD("{'op':'conv','output':{'path':'a.npz','overwrite':'yes'}}", INVALID_ARGUMENT, "output.overwrite"),
    BAD("{'op':'conv','output':{'path':'a.npz','path':'b.npz'}}", INVALID_ARGUMENT, "output.path"),
    /* ---- inputs: references ---- */
    OK("{'op':'conv','inputs':{'x':'tensor:t_1','w':'file:w.npy','b':'file:/data/inputs/b.npy'}}"),
    OK("{'op':'conv','inputs':{}}"),
    BAD("{'op':'conv','inputs':{'x':'tensor:'}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':'file:'}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':'blob:1'}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':5}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':[1,2]}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':null}}", INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':[]}", INVALID_ARGUMENT, "inputs"),
    BAD("{'op':'conv','inputs':{'bad-name':'tensor:1'}}", INVALID_ARGUMENT, "inputs.bad-name"),
    BAD("{'op':'conv','inputs':{'':'tensor:1'}}", INVALID_ARGUMENT, "inputs."),
    BAD("{'op':'conv','inputs':{'x':'tensor:1','x':'tensor:2'}}", INVALID_ARGUMENT, "inputs.x"),
    /* ---- inputs: inline tensors ---- */
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,2],'data':[[1,2],[3,4]]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,2],'data':[1,2,3,4]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,2],'data':[[[1],2],[],[3,[[4]]]]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,2],'data':[1,2,3]}}}", SHAPE_MISMATCH,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data':[1,2,3]}}}", SHAPE_MISMATCH,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float8','shape':[1],'data':[1]}}}", INVALID_ARGUMENT,
        "inputs.x.dtype"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':4,'shape':[1],'data':[1]}}}", INVALID_ARGUMENT, "inputs.x.dtype"),
    BAD("{'op':'conv','inputs':{'x':{'shape':[1],'data':[1]}}}", INVALID_ARGUMENT, "inputs.x.dtype"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','data':[1]}}}", INVALID_ARGUMENT, "inputs.x.shape"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,'2'],'data':[1]}}}", INVALID_ARGUMENT,
        "inputs.x.shape[1]"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[-1],'data':[]}}}", INVALID_ARGUMENT,
        "inputs.x.shape[0]"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1.5],'data':[1]}}}", INVALID_ARGUMENT,
        "inputs.x.shape[0]"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2.0,1],'data':[1,2]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':4,'data':[1,2,3,4]}}}", INVALID_ARGUMENT,
        "inputs.x.shape"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1,1,1,1,1,1,1,1,1],'data':[1]}}}",
        INVALID_ARGUMENT, "inputs.x.shape"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1]}}}", INVALID_ARGUMENT, "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':[1],'data_b64':'AACAPw=='}}}",
        INVALID_ARGUMENT, "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':[1],'tapz':1}}}", INVALID_ARGUMENT,
        "inputs.x.tapz"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':[1],'shape':[1]}}}", INVALID_ARGUMENT,
        "inputs.x.shape"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[4],'data':['NaN','Infinity','-Infinity',1e39]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':['nan']}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':['1.5']}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int32','shape':[1],'data':['NaN']}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[1],'data':['Infinity']}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int32','shape':[1],'data':[1.5]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int8','shape':[1],'data':[200]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'uint8','shape':[1],'data':[-1]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int32','shape':[1],'data':[1e400]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'int32','shape':[3],'data':[3.0,-2147483648,2147483647]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int32','shape':[1],'data':[2147483648]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[5],'data':[true,false,0,1,1.0]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[1],'data':[2]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[1],'data':['true']}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':[true]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data':[1,null]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':[{}]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':{}}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'complex64','shape':[2],'data':[[1,2],[3,4]]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'complex128','shape':[2],'data':[1,'NaN','-Infinity',4]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'complex64','shape':[2],'data':[1,2,3]}}}", SHAPE_MISMATCH,
        "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'complex64','shape':[2],'data':[1,2]}}}", SHAPE_MISMATCH,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float16','shape':[3],'data':[0.1,65504,1e6]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'bfloat16','shape':[2],'data':[0.1,'NaN']}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'int64','shape':[2],'data':[-9007199254740992,9007199254740992]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'int64','shape':[1],'data':[9007199254740994]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'uint64','shape':[1],'data':[9007199254740992]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'uint16','shape':[1],'data':[65536]}}}", INVALID_ARGUMENT,
        "inputs.x.data"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[0],'data':[]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[3,0],'data':[[],[],[]]}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float64','shape':[],'data':5}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float64','shape':[],'data':[5]}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float64','shape':[],'data':[]}}}", SHAPE_MISMATCH, "inputs.x.data"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1e12,1e12],'data':[]}}}", PAYLOAD_TOO_LARGE,
        "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1024,1024],'data':[]}}}", PAYLOAD_TOO_LARGE,
        "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[0,1e15,1e15],'data':[]}}}", PAYLOAD_TOO_LARGE,
        "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1e300],'data':[]}}}", PAYLOAD_TOO_LARGE,
        "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1024,1024],'data_b64':''}}}", PAYLOAD_TOO_LARGE,
        "inputs.x"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[512,512],'data':[]}}}", SHAPE_MISMATCH,
        "inputs.x.data"),   /* exactly the cap: allowed, then the count is wrong */
    /* data_b64 */
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAAAEA='}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAAAEA'}}}"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[0],'data_b64':''}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAA!EA='}}}", INVALID_ARGUMENT,
        "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAA AEA='}}}",
        INVALID_ARGUMENT, "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAA-EA='}}}", INVALID_ARGUMENT,
        "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[3],'data_b64':'AACAPwAAAEA='}}}", SHAPE_MISMATCH,
        "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAPwAAAEA=='}}}",
        INVALID_ARGUMENT, "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':'AACAP=wAAAEA'}}}",
        INVALID_ARGUMENT, "inputs.x.data_b64"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2],'data_b64':5}}}", INVALID_ARGUMENT,
        "inputs.x.data_b64"),
    OK("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[3],'data_b64':'AAEA'}}}"),
    BAD("{'op':'conv','inputs':{'x':{'dtype':'bool','shape':[3],'data_b64':'AAIA'}}}", INVALID_ARGUMENT,
        "inputs.x.data_b64"),
};

static void test_rows(void) {
  for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    char where[32];
    snprintf(where, sizeof where, "row %zu", i);
    cv_spec_t s;
    parse_check(ROWS[i].json, ROWS[i].code, ROWS[i].field, &s, where);
    cv_spec_free(&s);
    cv_spec_free(&s);   /* safe twice */
  }
  LEAK_CHECK();
}


/* Random byte edits of every row: any result is fine as long as it is 0 or a
 * known error with a message, and nothing crashes or leaks (run under ASan). */
static void test_mutations(void) {
  static const char ALPHABET[] = "{}[]\":,.-+0123456789eE'abcdefghijklmnopqrstuvwxyz _\\/\x01\xff";
  uint64_t r = 0x853c49e6748fea9bull;
  char buf[1024];
  int ok = 0;
  for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    char *base = dq(ROWS[i].json);
    size_t len = strlen(base);
    for (int k = 0; k < 200 && len < sizeof buf - 8; k++) {
      memcpy(buf, base, len + 1);
      size_t n = len;
      for (int edits = 1 + k % 3; edits > 0; edits--) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        size_t at = n ? (size_t)(r >> 33) % n : 0;
        char c = ALPHABET[(r >> 20) % (sizeof ALPHABET - 1)];
        switch ((r >> 8) % 3) {
          case 0: buf[at] = c; break;                                    /* replace */
          case 1: memmove(buf + at + 1, buf + at, n - at + 1); buf[at] = c; n++; break;   /* insert */
          case 2: if (n) { memmove(buf + at, buf + at + 1, n - at); n--; } break;           /* delete */
        }
      }
      cv_spec_t s;
      cv_error_t e;
      cv_error_clear(&e);
      int rc = cv_spec_parse(buf, n, &LIM, &s, &e);
      if (rc > 0 || rc < -(int)CV_ERR_COUNT || (rc && !e.message[0])) CV_FAIL_("rc %d for %s", rc, buf);
      ok += rc == 0;
      cv_spec_free(&s);
    }
    free(base);
  }
  if (ok < 20) CV_FAIL_("only %d edited specs parsed", ok);   /* some edits keep a spec valid */
  LEAK_CHECK();
}

/* rows too long to write out: many taps, many filters, deep ranks */
static void test_generated_rows(void) {
  char *j = malloc(1 << 16);
  cv_spec_t s;
  int n = sprintf(j, "{'op':'sepconv','filters':[{'axis':0,'taps':[");
  for (int i = 0; i < CV_SEPCONV_MAX_TAPS + 1; i++) n += sprintf(j + n, "%s1", i ? "," : "");
  sprintf(j + n, "]}]}");
  parse_check(j, CV_EINVALID_ARGUMENT, "filters[0].taps", &s, "257 taps");
  n = sprintf(j, "{'op':'sepconv','filters':[");
  for (int i = 0; i < CV_SEPCONV_MAX_FILTERS + 1; i++) n += sprintf(j + n, "%s{'axis':0,'taps':[1]}", i ? "," : "");
  sprintf(j + n, "]}");
  parse_check(j, CV_EINVALID_ARGUMENT, "filters", &s, "17 filters");
  n = sprintf(j, "{'op':'sepconv','filters':[");
  for (int i = 0; i < CV_SEPCONV_MAX_FILTERS; i++) n += sprintf(j + n, "%s{'axis':0,'taps':[1]}", i ? "," : "");
  sprintf(j + n, "]}");
  parse_check(j, CV_OK, "", &s, "16 filters");
  CV_ASSERT_EQ(s.params.u.sepconv.n_filters, CV_SEPCONV_MAX_FILTERS);
  cv_spec_free(&s);
  n = sprintf(j, "{'op':'dwt','wavelet':{'dec_lo':[");
  for (int i = 0; i < CV_WAVELET_MAX_LEN + 1; i++) n += sprintf(j + n, "%s1", i ? "," : "");
  sprintf(j + n, "],'dec_hi':[1,1],'rec_lo':[1,1],'rec_hi':[1,1]}}");
  parse_check(j, CV_EINVALID_ARGUMENT, "wavelet.dec_lo", &s, "129-tap bank");
  /* a deeply nested data list: fine up to cJSON's nesting limit */
  n = sprintf(j, "{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[1],'data':");
  for (int i = 0; i < 500; i++) j[n++] = '[';
  j[n++] = '7';
  for (int i = 0; i < 500; i++) j[n++] = ']';
  sprintf(j + n, "}}}");
  parse_check(j, CV_OK, "", &s, "nested data");
  CV_ASSERT_EQ(((float *)s.inputs[0].tensor->a.data)[0], 7);
  cv_spec_free(&s);
  /* many inputs (keys checked for duplicates by sorting) */
  n = sprintf(j, "{'op':'idwt','wavelet':'haar','inputs':{");
  for (int i = 0; i < 2000; i++) n += sprintf(j + n, "%s'd%d_d':'tensor:t%d'", i ? "," : "", i, i);
  sprintf(j + n, "}}");
  parse_check(j, CV_OK, "", &s, "2000 inputs");
  CV_ASSERT_EQ(s.n_inputs, 2000);
  CV_ASSERT_STREQ(s.inputs[1999].ref, "t1999");
  cv_spec_free(&s);
  sprintf(j + n, ",'d7_d':'tensor:x'}}");
  parse_check(j, CV_EINVALID_ARGUMENT, "inputs.d7_d", &s, "duplicate among 2000");
  free(j);
  LEAK_CHECK();
}

static void test_invalid_json_offset(void) {
  cv_spec_t s;
  cv_error_t e;
  const char *j = "{\"op\": dwt}";
  CV_ASSERT_EQ(cv_spec_parse(j, strlen(j), NULL, &s, &e), -CV_EINVALID_JSON);
  if (!strstr(e.message, "byte 7")) CV_FAIL_("message \"%s\" lacks the offset", e.message);
  CV_ASSERT_STREQ(e.field, "");
  j = "{\"op\":\"conv\"}  xyz";
  CV_ASSERT_EQ(cv_spec_parse(j, strlen(j), NULL, &s, &e), -CV_EINVALID_JSON);
  if (!strstr(e.message, "byte 15")) CV_FAIL_("message \"%s\" lacks the offset", e.message);
  /* the length is honoured: what follows is not read */
  j = "{\"op\":\"conv\"}garbage";
  CV_ASSERT_OK(cv_spec_parse(j, 13, NULL, &s, &e));
  CV_ASSERT_EQ(s.params.op, CV_OP_CONV);
  cv_spec_free(&s);
  CV_ASSERT_EQ(cv_spec_parse(j, 12, NULL, &s, &e), -CV_EINVALID_JSON);
  LEAK_CHECK();
}

/* ---- values of parsed specs ---- */

static void test_values_dwt(void) {
  cv_spec_t s;
  parse_check("{'op':'dwt','wavelet':'DB4','mode':'SYM','level':3.0,'axes':[2,-1],'priority':1,"
              "'timeout_ms':250,'async':true,'keep':true,'result_encoding':'b64','select':['a','d1_dd'],"
              "'output':{'dir':'r/','format':'npy','overwrite':true},'precision':'tf32'}",
              CV_OK, "", &s, "dwt values");
  const cv_dwt_params_t *d = &s.params.u.dwt;
  const cv_wavelet_info_t *db4 = cv_wavelet_find("db4");
  CV_ASSERT(db4);
  CV_ASSERT_EQ(s.params.op, CV_OP_DWT);
  CV_ASSERT_EQ(d->n_wavelets, 1);
  CV_ASSERT_STREQ(d->wavelets[0].name, "db4");
  CV_ASSERT_EQ(d->wavelets[0].len, 8);
  for (int i = 0; i < 8; i++) CV_ASSERT_EQ(d->wavelets[0].rec_hi[i] == db4->rec_hi[i], 1);
  CV_ASSERT_EQ(d->n_modes, 1);
  CV_ASSERT_EQ(d->modes[0], CV_MODE_SYMMETRIC);
  CV_ASSERT_EQ(d->level, 3);
  CV_ASSERT_EQ(d->n_axes, 2);
  CV_ASSERT_EQ(d->axes[0], 2);
  CV_ASSERT_EQ(d->axes[1], -1);
  CV_ASSERT_EQ(d->n_shape, 0);
  CV_ASSERT_EQ(s.priority, 1);
  CV_ASSERT_EQ(s.timeout_ms, 250);
  CV_ASSERT(s.async && s.keep && s.result_b64);
  CV_ASSERT_EQ(s.n_select, 2);
  CV_ASSERT_STREQ(s.select[1], "d1_dd");
  CV_ASSERT(s.has_output && s.output_npy && s.overwrite && s.output_path == NULL);
  CV_ASSERT_STREQ(s.output_dir, "r/");
  CV_ASSERT_EQ(s.precision, CV_PRECISION_TF32);
  cv_spec_free(&s);

  parse_check("{'op':'dwt','wavelet':'haar'}", CV_OK, "", &s, "defaults");
  CV_ASSERT_EQ(d->level, CV_LEVEL_AUTO);
  CV_ASSERT_EQ(d->n_axes, -1);
  CV_ASSERT_EQ(d->n_modes, 1);
  CV_ASSERT_EQ(d->modes[0], CV_MODE_SYMMETRIC);
  CV_ASSERT_EQ(s.priority, CV_SPEC_PRIORITY_DEFAULT);
  CV_ASSERT(!s.async && !s.keep && !s.result_b64 && !s.has_output);
  CV_ASSERT_EQ(s.timeout_ms, 0);
  CV_ASSERT_EQ(s.n_select, 0);
  CV_ASSERT_EQ(s.n_inputs, 0);
  CV_ASSERT_EQ(s.precision, CV_PRECISION_DEFAULT);
  cv_spec_free(&s);

  parse_check("{'op':'idwt','wavelet':['db1',{'dec_lo':[0.5,0.5],'dec_hi':[-0.5,0.5],'rec_lo':[1,1],"
              "'rec_hi':[1,-1]}],'mode':['per','zpd'],'shape':[5,7],'level':0,'axes':1}",
              CV_OK, "", &s, "per-axis");
  CV_ASSERT_EQ(s.params.op, CV_OP_IDWT);
  CV_ASSERT_EQ(d->n_wavelets, 2);
  CV_ASSERT_STREQ(d->wavelets[0].name, "db1");
  CV_ASSERT_STREQ(d->wavelets[1].name, "custom");
  CV_ASSERT_EQ(d->wavelets[1].len, 2);
  CV_ASSERT_NEAR(d->wavelets[1].dec_hi[0], -0.5, 0);
  CV_ASSERT_NEAR(d->wavelets[1].rec_hi[1], -1, 0);
  CV_ASSERT_EQ(d->n_modes, 2);
  CV_ASSERT_EQ(d->modes[0], CV_MODE_PERIODIZATION);
  CV_ASSERT_EQ(d->modes[1], CV_MODE_ZERO);
  CV_ASSERT_EQ(d->n_shape, 2);
  CV_ASSERT_EQ(d->shape[1], 7);
  CV_ASSERT_EQ(d->level, 0);
  CV_ASSERT_EQ(d->n_axes, 1);
  CV_ASSERT_EQ(d->axes[0], 1);
  cv_spec_free(&s);

  parse_check("{'op':'conv','output':{'path':'a/b.npz'}}", CV_OK, "", &s, "output path");
  CV_ASSERT(s.has_output && !s.output_npy && !s.overwrite && !s.output_dir);
  CV_ASSERT_STREQ(s.output_path, "a/b.npz");
  cv_spec_free(&s);
  parse_check("{'op':'conv','output':{'dir':'d','format':'npz'}}", CV_OK, "", &s, "dir npz");
  CV_ASSERT(s.has_output && !s.output_npy);
  cv_spec_free(&s);
  parse_check("{'op':'conv','output':{'dir':'d'}}", CV_OK, "", &s, "dir default");
  CV_ASSERT(s.has_output && s.output_npy);
  cv_spec_free(&s);
  LEAK_CHECK();
}

static void test_values_sepconv(void) {
  cv_spec_t s;
  parse_check("{'op':'sepconv','flip':true,'filters':[{'axis':-1,'taps':[1],'padding':'SAME','mode':'reflect',"
              "'flip':false,'dilation':2},{'axis':1,'taps':[1,2,3.5],'padding':[1,2]},{'axis':2,'taps':[1],"
              "'padding':3,'stride':4,'flip':true,'mode':'per'}]}",
              CV_EINVALID_ARGUMENT, "filters[2].mode", &s, "sepconv per");
  parse_check("{'op':'sepconv','flip':true,'filters':[{'axis':-1,'taps':[1],'padding':'SAME','mode':'reflect',"
              "'flip':false,'dilation':2},{'axis':1,'taps':[1,2,3.5],'padding':[1,2]},{'axis':2,'taps':[1],"
              "'padding':3,'stride':4,'flip':true,'mode':'sp1'}]}",
              CV_OK, "", &s, "sepconv values");
  const cv_sepconv_params_t *p = &s.params.u.sepconv;
  CV_ASSERT(p->flip);
  CV_ASSERT_EQ(p->n_filters, 3);
  const cv_sepconv_filter_t *f = p->filters;
  CV_ASSERT_EQ(f[0].axis, -1);
  CV_ASSERT_EQ(f[0].ntaps, 1);
  CV_ASSERT_EQ(f[0].pad_kind, CV_PAD_SAME);
  CV_ASSERT_EQ(f[0].mode, CV_MODE_REFLECT);
  CV_ASSERT_EQ(f[0].flip, 0);
  CV_ASSERT_EQ(f[0].dilation, 2);
  CV_ASSERT_EQ(f[0].stride, 1);
  CV_ASSERT_EQ(f[1].ntaps, 3);
  CV_ASSERT_NEAR(f[1].taps[2], 3.5, 0);
  CV_ASSERT_EQ(f[1].pad_kind, CV_PAD_EXPLICIT);
  CV_ASSERT_EQ(f[1].pad_lo, 1);
  CV_ASSERT_EQ(f[1].pad_hi, 2);
  CV_ASSERT_EQ(f[1].mode, CV_MODE_ZERO);
  CV_ASSERT_EQ(f[1].flip, -1);
  CV_ASSERT_EQ(f[1].dilation, 1);
  CV_ASSERT_EQ(f[2].pad_kind, CV_PAD_EXPLICIT);
  CV_ASSERT_EQ(f[2].pad_lo, 3);
  CV_ASSERT_EQ(f[2].pad_hi, 3);
  CV_ASSERT_EQ(f[2].stride, 4);
  CV_ASSERT_EQ(f[2].flip, 1);
  CV_ASSERT_EQ(f[2].mode, CV_MODE_SMOOTH);
  cv_spec_free(&s);
  parse_check("{'op':'sepconv','filters':[{'axis':0,'taps':[1]}]}", CV_OK, "", &s, "sepconv defaults");
  CV_ASSERT(!p->flip);
  CV_ASSERT_EQ(p->filters[0].pad_kind, CV_PAD_VALID);
  CV_ASSERT_EQ(p->filters[0].mode, CV_MODE_ZERO);
  cv_spec_free(&s);
  LEAK_CHECK();
}

static void test_values_conv(void) {
  cv_spec_t s;
  const cv_conv_params_t *c = &s.params.u.conv;
  parse_check("{'op':'conv','stride':2,'dilation':[1,2],'padding':'same','groups':2.0,'padding_mode':'Circular',"
              "'flip':true,'layout':'NDHWC','algo':'GEMM','precision':'tf32'}",
              CV_OK, "", &s, "conv values");
  CV_ASSERT_EQ(c->n_stride, 1);
  CV_ASSERT_EQ(c->stride[0], 2);
  CV_ASSERT_EQ(c->n_dilation, 2);
  CV_ASSERT_EQ(c->dilation[1], 2);
  CV_ASSERT_EQ(c->pad_kind, CV_PAD_SAME);
  CV_ASSERT_EQ(c->groups, 2);
  CV_ASSERT_EQ(c->padding_mode, CV_PADMODE_CIRCULAR);
  CV_ASSERT(c->flip);
  CV_ASSERT_EQ(c->layout, CV_LAYOUT_NDHWC);
  CV_ASSERT_EQ(c->algo, CV_CONV_ALGO_GEMM);
  CV_ASSERT_EQ(c->precision, CV_PRECISION_TF32);
  cv_spec_free(&s);
  parse_check("{'op':'conv'}", CV_OK, "", &s, "conv defaults");
  CV_ASSERT_EQ(c->n_stride, 0);
  CV_ASSERT_EQ(c->n_dilation, 0);
  CV_ASSERT_EQ(c->n_pad, 0);
  CV_ASSERT_EQ(c->pad_kind, CV_PAD_EXPLICIT);
  CV_ASSERT_EQ(c->groups, 1);
  CV_ASSERT_EQ(c->padding_mode, CV_PADMODE_ZEROS);
  CV_ASSERT(!c->flip);
  CV_ASSERT_EQ(c->layout, CV_LAYOUT_NCDHW);
  CV_ASSERT_EQ(c->algo, CV_CONV_ALGO_AUTO);
  CV_ASSERT_EQ(c->precision, CV_PRECISION_DEFAULT);
  cv_spec_free(&s);
  static const struct {
    const char *pad;
    int kind, n;
    int64_t lo[3], hi[3];
  } pads[] = {
      {"1", CV_PAD_EXPLICIT, 1, {1}, {1}},
      {"[1,2]", CV_PAD_EXPLICIT, 2, {1, 2}, {1, 2}},
      {"[[1,2],[0,0]]", CV_PAD_EXPLICIT, 2, {1, 0}, {2, 0}},
      {"[1,[2,3],4.0]", CV_PAD_EXPLICIT, 3, {1, 2, 4}, {1, 3, 4}},
      {"'VALID'", CV_PAD_VALID, 0, {0}, {0}},
      {"'same'", CV_PAD_SAME, 0, {0}, {0}},
  };
  for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
    char j[128];
    snprintf(j, sizeof j, "{'op':'conv','padding':%s,'layout':'ncw'}", pads[i].pad);
    parse_check(j, CV_OK, "", &s, "conv padding");
    CV_ASSERT_EQ(c->pad_kind, pads[i].kind);
    CV_ASSERT_EQ(c->n_pad, pads[i].n);
    for (int k = 0; k < pads[i].n; k++) {
      CV_ASSERT_EQ(c->pad_lo[k], pads[i].lo[k]);
      CV_ASSERT_EQ(c->pad_hi[k], pads[i].hi[k]);
    }
    CV_ASSERT_EQ(c->layout, CV_LAYOUT_NCDHW);
    cv_spec_free(&s);
  }
  LEAK_CHECK();
}

static uint32_t f32bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

static void test_values_inputs(void) {
  cv_spec_t s;
  parse_check("{'op':'conv','inputs':{'x':{'dtype':'float32','shape':[2,3],'data':[[1,2,3],[4,5,6.5]]},"
              "'w':'tensor:t_9','b':'file:dir/b.npy'}}",
              CV_OK, "", &s, "inputs");
  CV_ASSERT_EQ(s.n_inputs, 3);
  const cv_spec_input_t *x = cv_spec_find_input(&s, "x"), *w = cv_spec_find_input(&s, "w"),
                        *b = cv_spec_find_input(&s, "b");
  CV_ASSERT(x && w && b && !cv_spec_find_input(&s, "y"));
  CV_ASSERT_EQ(x->kind, CV_INPUT_INLINE);
  CV_ASSERT(x->ref == NULL);
  CV_ASSERT_EQ(x->tensor->a.dtype, CV_DTYPE_F32);
  CV_ASSERT_EQ(x->tensor->a.ndim, 2);
  CV_ASSERT_EQ(x->tensor->a.shape[1], 3);
  CV_ASSERT_EQ(x->tensor->nbytes, 24);
  CV_ASSERT_NEAR(((float *)x->tensor->a.data)[5], 6.5, 0);
  CV_ASSERT_EQ(w->kind, CV_INPUT_TENSOR);
  CV_ASSERT_STREQ(w->ref, "t_9");
  CV_ASSERT(w->tensor == NULL);
  CV_ASSERT_EQ(b->kind, CV_INPUT_FILE);
  CV_ASSERT_STREQ(b->ref, "dir/b.npy");

  /* cv_spec_add_input: its own reference; replaces by name, any kind */
  cv_tensor_t *t1, *t2;
  int64_t shp[1] = {4};
  CV_ASSERT_OK(cv_tensor_new(&t1, CV_DTYPE_F64, 1, shp, 0, true, NULL));
  CV_ASSERT_OK(cv_tensor_new(&t2, CV_DTYPE_F64, 1, shp, 0, true, NULL));
  cv_error_t e;
  CV_ASSERT_OK(cv_spec_add_input(&s, "w", t1, &e));
  CV_ASSERT_EQ(atomic_load(&t1->refs), 2);
  CV_ASSERT_EQ(s.n_inputs, 3);
  w = cv_spec_find_input(&s, "w");
  CV_ASSERT(w->kind == CV_INPUT_INLINE && w->tensor == t1 && w->ref == NULL);
  CV_ASSERT_OK(cv_spec_add_input(&s, "w", t2, &e));
  CV_ASSERT_EQ(atomic_load(&t1->refs), 1);
  CV_ASSERT_EQ(atomic_load(&t2->refs), 2);
  CV_ASSERT_OK(cv_spec_add_input(&s, "y_2", t1, &e));
  CV_ASSERT_EQ(s.n_inputs, 4);
  CV_ASSERT_EQ(cv_spec_add_input(&s, "a-b", t1, &e), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(e.field, "inputs.a-b");
  CV_ASSERT_EQ(cv_spec_add_input(&s, "0123456789012345678901234567890123", t1, &e), -CV_EINVALID_ARGUMENT);
  cv_spec_free(&s);
  CV_ASSERT_EQ(atomic_load(&t1->refs), 1);
  CV_ASSERT_EQ(atomic_load(&t2->refs), 1);
  cv_tensor_unref(t1);
  cv_tensor_unref(t2);

  /* decoded values of every dtype */
  parse_check("{'op':'conv','inputs':{"
              "'b':{'dtype':'bool','shape':[5],'data':[true,false,0,1,1.0]},"
              "'i8':{'dtype':'int8','shape':[3],'data':[-128,127,3.0]},"
              "'u8':{'dtype':'uint8','shape':[2],'data':[0,255]},"
              "'i16':{'dtype':'int16','shape':[2],'data':[-32768,32767]},"
              "'u16':{'dtype':'uint16','shape':[1],'data':[65535]},"
              "'i32':{'dtype':'int32','shape':[2],'data':[-2147483648,2147483647]},"
              "'u32':{'dtype':'uint32','shape':[1],'data':[4294967295]},"
              "'i64':{'dtype':'int64','shape':[2],'data':[-9007199254740992,5]},"
              "'u64':{'dtype':'uint64','shape':[1],'data':[9007199254740992]},"
              "'h':{'dtype':'float16','shape':[6],'data':[0.1,65504,1e6,'NaN','-Infinity',-0.0]},"
              "'bf':{'dtype':'bfloat16','shape':[2],'data':[0.1,1e39]},"
              "'f':{'dtype':'float32','shape':[6],'data':['NaN','Infinity','-Infinity',1e39,0.1,-0.0]},"
              "'d':{'dtype':'float64','shape':[3],'data':[0.1,1e-320,1e400]},"
              "'c':{'dtype':'complex64','shape':[2],'data':[[1,2],[3,'NaN']]},"
              "'z':{'dtype':'complex128','shape':[1],'data':[1,-2]}}}",
              CV_OK, "", &s, "dtypes");
  CV_ASSERT_EQ(s.n_inputs, 15);
#define DATA(name, type) ((const type *)cv_spec_find_input(&s, name)->tensor->a.data)
  CV_ASSERT(!memcmp(DATA("b", uint8_t), "\1\0\0\1\1", 5));
  CV_ASSERT(DATA("i8", int8_t)[0] == -128 && DATA("i8", int8_t)[1] == 127 && DATA("i8", int8_t)[2] == 3);
  CV_ASSERT(DATA("u8", uint8_t)[1] == 255);
  CV_ASSERT(DATA("i16", int16_t)[0] == -32768);
  CV_ASSERT(DATA("u16", uint16_t)[0] == 65535);
  CV_ASSERT(DATA("i32", int32_t)[0] == INT32_MIN && DATA("i32", int32_t)[1] == INT32_MAX);
  CV_ASSERT(DATA("u32", uint32_t)[0] == UINT32_MAX);
  CV_ASSERT(DATA("i64", int64_t)[0] == -9007199254740992LL && DATA("i64", int64_t)[1] == 5);
  CV_ASSERT(DATA("u64", uint64_t)[0] == 9007199254740992ULL);
  const uint16_t *h = DATA("h", uint16_t);
  CV_ASSERT(h[0] == 0x2e66 && h[1] == 0x7bff && h[2] == 0x7c00 && (h[3] & 0x7c00) == 0x7c00 && (h[3] & 0x3ff));
  CV_ASSERT(h[4] == 0xfc00 && h[5] == 0x8000);
  CV_ASSERT(DATA("bf", uint16_t)[0] == 0x3dcd && DATA("bf", uint16_t)[1] == 0x7f80);
  const float *f = DATA("f", float);
  CV_ASSERT(isnan(f[0]) && f[1] == INFINITY && f[2] == -INFINITY && f[3] == INFINITY);
  CV_ASSERT(f[4] == 0.1f && f32bits(f[5]) == 0x80000000u);
  const double *d = DATA("d", double);
  CV_ASSERT(d[0] == 0.1 && d[1] == 1e-320 && d[2] == INFINITY);
  const float *c = DATA("c", float);
  CV_ASSERT(c[0] == 1 && c[1] == 2 && c[2] == 3 && isnan(c[3]));
  CV_ASSERT(DATA("z", double)[1] == -2);
#undef DATA
  cv_spec_free(&s);
  LEAK_CHECK();
}

/* ---- x-npy query pairs ---- */

static int query(const char *const *kv, int n, cv_tensor_t *x, cv_spec_t *s, cv_error_t *e) {
  const char *keys[32], *vals[32];
  for (int i = 0; i < n; i++) {
    keys[i] = kv[2 * i];
    vals[i] = kv[2 * i + 1];
  }
  cv_error_clear(e);
  return cv_spec_from_query(keys, vals, n, x, &LIM, s, e);
}

#define Q(x, s, e, ...)                                                     \
  query((const char *const[]){__VA_ARGS__},                                 \
        (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *) / 2), x, s, e)

static void expect_query_error(int rc, const cv_error_t *e, int code, const char *field) {
  if (rc != -code || strcmp(e->field, field))
    CV_FAIL_("query: got %s \"%s\" (%s); want %s \"%s\"", cv_err_name(rc), e->field, e->message,
             cv_err_name(code), field);
}

static void test_query(void) {
  cv_tensor_t *x;
  int64_t shp[1] = {16};
  CV_ASSERT_OK(cv_tensor_new(&x, CV_DTYPE_F32, 1, shp, 0, true, NULL));
  cv_spec_t s;
  cv_error_t e;
  CV_ASSERT_OK(Q(x, &s, &e, "op", "dwt", "wavelet", "db4", "level", "3", "axes", "0,1,2", "mode", "per"));
  CV_ASSERT_EQ(s.params.op, CV_OP_DWT);
  CV_ASSERT_EQ(s.params.u.dwt.level, 3);
  CV_ASSERT_EQ(s.params.u.dwt.n_axes, 3);
  CV_ASSERT_EQ(s.params.u.dwt.axes[2], 2);
  CV_ASSERT_STREQ(s.params.u.dwt.wavelets[0].name, "db4");
  CV_ASSERT_EQ(s.params.u.dwt.modes[0], CV_MODE_PERIODIZATION);
  CV_ASSERT_EQ(s.n_inputs, 1);
  CV_ASSERT(s.inputs[0].tensor == x && !strcmp(s.inputs[0].name, "x"));
  CV_ASSERT_EQ(atomic_load(&x->refs), 2);
  cv_spec_free(&s);
  CV_ASSERT_EQ(atomic_load(&x->refs), 1);

  CV_ASSERT_OK(Q(x, &s, &e, "op", "dwt", "wavelet", "db1,HAAR", "level", "", "axes", "", "select", "a",
                 "async", "true", "priority", "0", "timeout_ms", "1e3", "result_encoding", "b64"));
  CV_ASSERT_EQ(s.params.u.dwt.n_wavelets, 2);
  CV_ASSERT_STREQ(s.params.u.dwt.wavelets[1].name, "haar");
  CV_ASSERT_EQ(s.params.u.dwt.level, CV_LEVEL_AUTO);
  CV_ASSERT_EQ(s.params.u.dwt.n_axes, -1);
  CV_ASSERT_EQ(s.n_select, 1);
  CV_ASSERT_STREQ(s.select[0], "a");
  CV_ASSERT(s.async && s.result_b64);
  CV_ASSERT_EQ(s.priority, 0);
  CV_ASSERT_EQ(s.timeout_ms, 1000);
  cv_spec_free(&s);

  CV_ASSERT_OK(Q(x, &s, &e, "op", "dwt", "wavelet", "haar", "axes", "-1"));
  CV_ASSERT_EQ(s.params.u.dwt.n_axes, 1);
  CV_ASSERT_EQ(s.params.u.dwt.axes[0], -1);
  cv_spec_free(&s);

  CV_ASSERT_OK(Q(NULL, &s, &e, "op", "conv", "inputs.x", "tensor:t_1", "inputs.w", "file:w.npy", "padding",
                 "1,2", "stride", "2", "output.path", "run/o.npz", "output.overwrite", "true", "groups", "1.0"));
  CV_ASSERT_EQ(s.n_inputs, 2);
  CV_ASSERT_EQ(cv_spec_find_input(&s, "w")->kind, CV_INPUT_FILE);
  CV_ASSERT_STREQ(cv_spec_find_input(&s, "x")->ref, "t_1");
  CV_ASSERT_EQ(s.params.u.conv.n_pad, 2);
  CV_ASSERT_EQ(s.params.u.conv.pad_lo[1], 2);
  CV_ASSERT_EQ(s.params.u.conv.n_stride, 1);
  CV_ASSERT_EQ(s.params.u.conv.stride[0], 2);
  CV_ASSERT(s.has_output && s.overwrite && !s.output_npy);
  CV_ASSERT_STREQ(s.output_path, "run/o.npz");
  cv_spec_free(&s);

  CV_ASSERT_OK(Q(x, &s, &e, "op", "conv", "padding", "same", "output.dir", "d/", "output.format", "npy"));
  CV_ASSERT_EQ(s.params.u.conv.pad_kind, CV_PAD_SAME);
  CV_ASSERT(s.output_npy);
  CV_ASSERT_STREQ(s.output_dir, "d/");
  cv_spec_free(&s);

  CV_ASSERT_OK(Q(x, &s, &e, "op", "idwt", "wavelet", "haar", "shape", "5"));
  CV_ASSERT_EQ(s.params.u.dwt.n_shape, 1);
  CV_ASSERT_EQ(s.params.u.dwt.shape[0], 5);
  cv_spec_free(&s);
  CV_ASSERT_OK(Q(x, &s, &e, "op", "idwt", "wavelet", "haar", "shape", "5,7"));
  CV_ASSERT_EQ(s.params.u.dwt.n_shape, 2);
  cv_spec_free(&s);

  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", "haar", "levle", "3"), &e, CV_EINVALID_ARGUMENT, "levle");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", "haar", "level", "three"), &e, CV_EINVALID_ARGUMENT, "level");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", "haar", "priority", "high"), &e, CV_EINVALID_ARGUMENT,
                     "priority");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "op", "dwt", "wavelet", "haar"), &e, CV_EINVALID_ARGUMENT, "op");
  expect_query_error(Q(x, &s, &e, "wavelet", "haar"), &e, CV_EINVALID_ARGUMENT, "op");
  expect_query_error(Q(x, &s, &e, "op", "fft"), &e, CV_EUNSUPPORTED_OP, "op");
  expect_query_error(Q(x, &s, &e, "op", "conv", "inputs.x", "tensor:t_1"), &e, CV_EINVALID_ARGUMENT, "inputs.x");
  expect_query_error(Q(x, &s, &e, "op", "conv", "inputs.w", "w.npy"), &e, CV_EINVALID_ARGUMENT, "inputs.w");
  expect_query_error(Q(x, &s, &e, "op", "conv", "inputs", "x"), &e, CV_EINVALID_ARGUMENT, "inputs");
  expect_query_error(Q(x, &s, &e, "op", "conv", "output.pth", "a"), &e, CV_EINVALID_ARGUMENT, "output.pth");
  expect_query_error(Q(x, &s, &e, "op", "conv", "output.path", "../a.npz"), &e, CV_EINVALID_ARGUMENT, "output.path");
  expect_query_error(Q(x, &s, &e, "op", "conv", "keep", "1"), &e, CV_EINVALID_ARGUMENT, "keep");
  expect_query_error(Q(x, &s, &e, "op", "sepconv", "filters", "0:1,1"), &e, CV_EINVALID_ARGUMENT, "filters");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", "haar", "axes", "0,,1"), &e, CV_EINVALID_ARGUMENT, "axes[1]");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", "haar,nope"), &e, CV_EINVALID_ARGUMENT, "wavelet[1]");
  expect_query_error(Q(x, &s, &e, "op", "dwt", "wavelet", ""), &e, CV_EINVALID_ARGUMENT, "wavelet");
  CV_ASSERT_EQ(atomic_load(&x->refs), 1);   /* failures keep no reference */
  cv_tensor_unref(x);
  LEAK_CHECK();
}

/* The same parses with cJSON's allocations in the per-thread arena (as in
 * convoyd and the CLI), one spec big enough to outgrow the kept chunk, and
 * cJSON trees made outside a parse still freed normally. Runs last: the
 * hooks stay installed. */
static void test_json_arena(void) {
  cv_json_hooks_install();
  test_rows();
  test_mutations();
  test_values_inputs();
  enum { N = 50000 };   /* ~ 50k number nodes: several chunks */
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_strbuf_puts(&sb, "{\"op\":\"dwt\",\"wavelet\":\"haar\",\"inputs\":{\"x\":{\"dtype\":\"float64\",\"shape\":[50000],\"data\":[");
  for (int i = 0; i < N; i++) cv_strbuf_printf(&sb, i ? ",%d.5" : "%d.5", i);
  cv_strbuf_puts(&sb, "]}}}");
  CV_ASSERT(!sb.failed);
  cv_spec_t sp;
  cv_error_t e;
  CV_ASSERT_OK(cv_spec_parse(sb.data, sb.len, &(cv_spec_limits_t){.max_tensor_bytes = 1 << 20}, &sp, &e));
  const double *d = sp.inputs[0].tensor->a.data;
  CV_ASSERT(d[0] == 0.5 && d[N - 1] == N - 0.5);
  cv_spec_free(&sp);
  /* truncated: the arena closes on the error path too, and the next parse works */
  CV_ASSERT_EQ(cv_spec_parse(sb.data, sb.len / 2, &LIM, &sp, &e), -CV_EINVALID_JSON);
  cv_strbuf_free(&sb);
  cJSON *o = cJSON_CreateObject();   /* outside a parse: malloc and free */
  CV_ASSERT(o && cJSON_AddNumberToObject(o, "a", 1));
  cJSON_Delete(o);
  CV_ASSERT(cv_json_arena_open());
  CV_ASSERT(!cv_json_arena_open());   /* nested: the outer keeps it */
  cv_json_arena_close();
  LEAK_CHECK();
}

#define CV_TEST_LIST(XX)                                                                   \
  XX(rows) XX(mutations) XX(generated_rows) XX(invalid_json_offset) XX(values_dwt) XX(values_sepconv)    \
  XX(values_conv) XX(values_inputs) XX(query) XX(json_arena)
CV_TEST_MAIN(CV_TEST_LIST)
