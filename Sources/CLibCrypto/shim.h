// OpenSSL's libcrypto: the same library libcurl already loads for TLS. Only CronqCrypto imports this.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
