#ifndef CRONQ_CCURL_SHIM_H
#define CRONQ_CCURL_SHIM_H

/* libcurl (OpenSSL flavour). Only CronqHTTP imports this module.
   curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic: one typed wrapper per kind. */
#include <curl/curl.h>

static inline CURLcode cronq_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode cronq_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode cronq_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode cronq_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*cronq_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode cronq_curl_easy_setopt_write_callback(CURL *handle, cronq_curl_data_callback cb) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, cb);
}
static inline CURLcode cronq_curl_easy_setopt_header_callback(CURL *handle, cronq_curl_data_callback cb) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, cb);
}

static inline CURLcode cronq_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode cronq_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode cronq_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

#endif
