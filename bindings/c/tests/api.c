/* Exercises every function of ovnkit.h, success and error paths. Run by tests/c_api.rs under
 * valgrind: argv[1] is a scratch directory, argv[2] the remote of a running ovsdb-server that
 * serves OVN_Northbound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovnkit.h"

static int failures = 0;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n",       \
                    __FILE__, __LINE__, #cond, ovnkit_last_error());           \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define EXPECT(call, code) CHECK((call) == (code))
#define OK(call) EXPECT(call, OVNKIT_RESULT_OK)

static int contains(const char *s, const char *needle) {
    return s != NULL && strstr(s, needle) != NULL;
}

/* The sentinel left in out-parameters, to check that failures do not write them. */
static char sentinel_byte;
#define SENTINEL (&sentinel_byte)

static void test_errors_and_strings(void) {
    CHECK(strcmp(ovnkit_result_name(OVNKIT_RESULT_OK), "ok") == 0);
    CHECK(strcmp(ovnkit_result_name(OVNKIT_RESULT_NBCTL_ERROR), "nbctl error") == 0);
    CHECK(strcmp(ovnkit_result_name(OVNKIT_RESULT_PANIC), "panic") == 0);
    ovnkit_string_free(NULL);
    ovnkit_db_free(NULL);
    ovnkit_remote_free(NULL);

    EXPECT(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, NULL, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(contains(ovnkit_last_error(), "out is NULL"));

    char *out = SENTINEL;
    EXPECT(ovnkit_compile_match(NULL, &out), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(out == SENTINEL);
    EXPECT(ovnkit_compile_match("\xff\xfe", &out), OVNKIT_RESULT_INVALID_UTF8);
    CHECK(out == SENTINEL);
    EXPECT(ovnkit_compile_match("ip4.src == ", &out), OVNKIT_RESULT_COMPILE_ERROR);
    CHECK(out == SENTINEL);
    CHECK(strlen(ovnkit_last_error()) > 0);
    EXPECT(ovnkit_compile_match("tcp", NULL), OVNKIT_RESULT_NULL_ARGUMENT);

    OK(ovnkit_compile_match("ip4.src == 10.0.0.0/8 && tcp.dst == 80", &out));
    CHECK(contains(out, "nw_src=10.0.0.0/8"));
    CHECK(contains(out, "tp_dst=80"));
    CHECK(strcmp(ovnkit_last_error(), "") == 0);
    ovnkit_string_free(out);
}

static void test_nb_sb_pipeline(const char *dir) {
    ovnkit_db *nb = NULL, *sb = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/nb.db", dir);
    OK(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, path, &nb));
    OK(ovnkit_db_new(OVNKIT_DB_KIND_SOUTHBOUND, NULL, &sb));
    CHECK(nb != NULL && sb != NULL);

    ovnkit_db_kind kind = OVNKIT_DB_KIND_SOUTHBOUND;
    OK(ovnkit_db_kind_of(nb, &kind));
    CHECK(kind == OVNKIT_DB_KIND_NORTHBOUND);
    EXPECT(ovnkit_db_kind_of(NULL, &kind), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_db_kind_of(nb, NULL), OVNKIT_RESULT_NULL_ARGUMENT);

    /* nbctl: success, output, refusals. */
    const char *build[] = {"ls-add", "sw0", "--", "lsp-add", "sw0", "p1", "--",
                           "lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.2"};
    char *text = SENTINEL;
    OK(ovnkit_nbctl(nb, sizeof build / sizeof *build, build, &text));
    CHECK(text != SENTINEL);
    ovnkit_string_free(text);
    const char *list[] = {"ls-list"};
    OK(ovnkit_nbctl(nb, 1, list, &text));
    CHECK(contains(text, "(sw0)"));
    ovnkit_string_free(text);

    text = SENTINEL;
    const char *dup[] = {"ls-add", "sw0"};
    EXPECT(ovnkit_nbctl(nb, 2, dup, &text), OVNKIT_RESULT_NBCTL_ERROR);
    CHECK(contains(ovnkit_last_error(), "already exists"));
    CHECK(text == SENTINEL);
    const char *unknown[] = {"frobnicate"};
    EXPECT(ovnkit_nbctl(nb, 1, unknown, &text), OVNKIT_RESULT_NBCTL_ERROR);
    const char *bad_arg[] = {"ls-add", NULL};
    EXPECT(ovnkit_nbctl(nb, 2, bad_arg, &text), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(contains(ovnkit_last_error(), "argv[1]"));
    EXPECT(ovnkit_nbctl(sb, 1, list, &text), OVNKIT_RESULT_INVALID_ARGUMENT);
    EXPECT(ovnkit_nbctl(nb, 1, NULL, &text), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_nbctl(NULL, 1, list, &text), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_nbctl(nb, 1, list, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(text == SENTINEL);

    /* Transactions: success, an operation error reported in the result, bad JSON. */
    char *json = SENTINEL;
    OK(ovnkit_db_transact(nb,
        "[\"OVN_Northbound\",{\"op\":\"insert\",\"table\":\"Logical_Switch\","
        "\"row\":{\"name\":\"sw1\"}}]", &json));
    CHECK(contains(json, "\"uuid\""));
    ovnkit_string_free(json);
    OK(ovnkit_db_transact(nb,
        "[\"OVN_Northbound\",{\"op\":\"insert\",\"table\":\"No_Such_Table\",\"row\":{}}]",
        &json));
    CHECK(contains(json, "\"error\""));
    ovnkit_string_free(json);
    json = SENTINEL;
    EXPECT(ovnkit_db_transact(nb, "[not json", &json), OVNKIT_RESULT_JSON_ERROR);
    CHECK(json == SENTINEL);
    EXPECT(ovnkit_db_transact(nb, NULL, &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_db_transact(NULL, "[]", &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_db_transact(nb, "[]", NULL), OVNKIT_RESULT_NULL_ARGUMENT);

    /* Dumps. */
    OK(ovnkit_db_dump(nb, "Logical_Switch", &json));
    CHECK(contains(json, "\"sw0\"") && contains(json, "\"sw1\""));
    CHECK(!contains(json, "Logical_Router"));
    ovnkit_string_free(json);
    OK(ovnkit_db_dump(nb, NULL, &json));
    CHECK(contains(json, "\"Logical_Switch_Port\"") && contains(json, "\"p1\""));
    ovnkit_string_free(json);
    json = SENTINEL;
    EXPECT(ovnkit_db_dump(nb, "No_Such_Table", &json), OVNKIT_RESULT_INVALID_ARGUMENT);
    CHECK(json == SENTINEL);
    EXPECT(ovnkit_db_dump(NULL, NULL, &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_db_dump(nb, NULL, NULL), OVNKIT_RESULT_NULL_ARGUMENT);

    /* northd once: NB -> SB. */
    EXPECT(ovnkit_northd_run(sb, nb, NULL), OVNKIT_RESULT_INVALID_ARGUMENT);
    EXPECT(ovnkit_northd_run(nb, nb, NULL), OVNKIT_RESULT_INVALID_ARGUMENT);
    EXPECT(ovnkit_northd_run(NULL, sb, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_northd_run(nb, NULL, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    char *warnings = NULL;
    OK(ovnkit_northd_run(nb, sb, &warnings));
    CHECK(warnings != NULL);
    ovnkit_string_free(warnings);
    OK(ovnkit_northd_run(nb, sb, NULL));
    OK(ovnkit_db_dump(sb, "Port_Binding", &json));
    CHECK(contains(json, "\"p1\""));
    ovnkit_string_free(json);
    OK(ovnkit_db_dump(sb, "Logical_Flow", &json));
    CHECK(contains(json, "ls_in_put_fdb"));
    ovnkit_string_free(json);

    /* A chassis with p1 bound to it, then its flows. */
    OK(ovnkit_db_transact(sb,
        "[\"OVN_Southbound\","
        "{\"op\":\"insert\",\"table\":\"Encap\",\"uuid-name\":\"e\",\"row\":"
        "{\"type\":\"geneve\",\"ip\":\"192.168.0.1\",\"chassis_name\":\"hv1\"}},"
        "{\"op\":\"insert\",\"table\":\"Chassis\",\"uuid-name\":\"c\",\"row\":"
        "{\"name\":\"hv1\",\"hostname\":\"hv1\",\"encaps\":[\"named-uuid\",\"e\"]}},"
        "{\"op\":\"update\",\"table\":\"Port_Binding\","
        "\"where\":[[\"logical_port\",\"==\",\"p1\"]],"
        "\"row\":{\"chassis\":[\"named-uuid\",\"c\"]}}]", &json));
    CHECK(!contains(json, "\"error\""));
    ovnkit_string_free(json);
    text = NULL;
    OK(ovnkit_chassis_flows(sb, "hv1", &text));
    CHECK(contains(text, "table=8"));
    CHECK(contains(text, "metadata=0x1"));
    CHECK(contains(text, "dl_dst=00:00:00:00:00:01"));
    ovnkit_string_free(text);
    text = SENTINEL;
    EXPECT(ovnkit_chassis_flows(sb, "no-such-chassis", &text), OVNKIT_RESULT_COMPILE_ERROR);
    CHECK(text == SENTINEL);
    EXPECT(ovnkit_chassis_flows(nb, "hv1", &text), OVNKIT_RESULT_INVALID_ARGUMENT);
    EXPECT(ovnkit_chassis_flows(sb, NULL, &text), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_chassis_flows(NULL, "hv1", &text), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_chassis_flows(sb, "hv1", NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(text == SENTINEL);

    ovnkit_db_free(nb);
    ovnkit_db_free(sb);

    /* The file kept the commits; the wrong schema is refused. */
    nb = NULL;
    OK(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, path, &nb));
    OK(ovnkit_db_dump(nb, "Logical_Switch", &json));
    CHECK(contains(json, "\"sw0\"") && contains(json, "\"sw1\""));
    ovnkit_string_free(json);
    ovnkit_db_free(nb);
    ovnkit_db *wrong = (ovnkit_db *)SENTINEL;
    EXPECT(ovnkit_db_new(OVNKIT_DB_KIND_SOUTHBOUND, path, &wrong), OVNKIT_RESULT_OVSDB_ERROR);
    CHECK(contains(ovnkit_last_error(), "OVN_Northbound"));
    CHECK(wrong == (ovnkit_db *)SENTINEL);
    snprintf(path, sizeof path, "%s/no-such-dir/x.db", dir);
    EXPECT(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, path, &wrong), OVNKIT_RESULT_OVSDB_ERROR);
    CHECK(wrong == (ovnkit_db *)SENTINEL);
    EXPECT(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, "\xff", &wrong), OVNKIT_RESULT_INVALID_UTF8);
}

static void test_remote(const char *dir, const char *remote_name) {
    ovnkit_remote *remote = (ovnkit_remote *)SENTINEL;
    char bad[4096];
    snprintf(bad, sizeof bad, "unix:%s/no-such.sock", dir);
    EXPECT(ovnkit_remote_connect(bad, 2000, &remote), OVNKIT_RESULT_CONNECTION_ERROR);
    EXPECT(ovnkit_remote_connect("bogus:remote", 2000, &remote), OVNKIT_RESULT_CONNECTION_ERROR);
    EXPECT(ovnkit_remote_connect(NULL, 2000, &remote), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_remote_connect(remote_name, 2000, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(remote == (ovnkit_remote *)SENTINEL);

    remote = NULL;
    OK(ovnkit_remote_connect(remote_name, 5000, &remote));
    CHECK(remote != NULL);
    char *json = SENTINEL;
    OK(ovnkit_remote_call(remote, "list_dbs", "[]", &json));
    CHECK(contains(json, "OVN_Northbound"));
    ovnkit_string_free(json);
    json = SENTINEL;
    EXPECT(ovnkit_remote_call(remote, "no_such_method", "[]", &json),
           OVNKIT_RESULT_CONNECTION_ERROR);
    EXPECT(ovnkit_remote_call(remote, "list_dbs", "{", &json), OVNKIT_RESULT_JSON_ERROR);
    EXPECT(ovnkit_remote_call(remote, "list_dbs", "{}", &json), OVNKIT_RESULT_JSON_ERROR);
    EXPECT(ovnkit_remote_call(remote, NULL, "[]", &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_remote_call(NULL, "list_dbs", "[]", &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_remote_call(remote, "list_dbs", "[]", NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(json == SENTINEL);

    OK(ovnkit_remote_transact(remote,
        "[\"OVN_Northbound\",{\"op\":\"insert\",\"table\":\"Logical_Switch\","
        "\"row\":{\"name\":\"remote-sw\"}}]", &json));
    CHECK(contains(json, "\"uuid\""));
    ovnkit_string_free(json);
    OK(ovnkit_remote_transact(remote,
        "[\"OVN_Northbound\",{\"op\":\"select\",\"table\":\"Logical_Switch\","
        "\"where\":[],\"columns\":[\"name\"]}]", &json));
    CHECK(contains(json, "remote-sw"));
    ovnkit_string_free(json);
    json = SENTINEL;
    EXPECT(ovnkit_remote_transact(remote, "[\"No_Such_Db\"]", &json),
           OVNKIT_RESULT_CONNECTION_ERROR);
    EXPECT(ovnkit_remote_transact(remote, "nope", &json), OVNKIT_RESULT_JSON_ERROR);
    EXPECT(ovnkit_remote_transact(remote, NULL, &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_remote_transact(NULL, "[]", &json), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_remote_transact(remote, "[]", NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    CHECK(json == SENTINEL);
    ovnkit_remote_free(remote);
}

/* Kubernetes manifests into NB, an unchanged re-apply, and the error paths. */
static void test_kube_apply(void) {
    static const char node[] =
        "apiVersion: v1\n"
        "kind: Node\n"
        "metadata:\n"
        "  name: node-01\n"
        "  annotations:\n"
        "    k8s.ovn.org/node-primary-ifaddr: '{\"ipv4\": \"172.18.0.11/16\"}'\n"
        "    k8s.ovn.org/host-cidrs: '[\"172.18.0.11/16\"]'\n"
        "    k8s.ovn.org/node-subnets: '{\"default\": [\"10.128.0.0/23\"]}'\n"
        "    k8s.ovn.org/node-chassis-id: chassis-01\n"
        "    k8s.ovn.org/l3-gateway-config: "
        "'{\"default\": {\"mode\": \"shared\", \"next-hops\": [\"172.18.0.1\"]}}'\n"
        "status:\n"
        "  addresses:\n"
        "  - type: InternalIP\n"
        "    address: 172.18.0.11\n";
    ovnkit_db *nb = NULL, *sb = NULL;
    OK(ovnkit_db_new(OVNKIT_DB_KIND_NORTHBOUND, NULL, &nb));
    OK(ovnkit_db_new(OVNKIT_DB_KIND_SOUTHBOUND, NULL, &sb));
    CHECK(strcmp(ovnkit_result_name(OVNKIT_RESULT_MANIFEST_ERROR), "manifest error") == 0);

    char *stats = SENTINEL;
    EXPECT(ovnkit_kube_apply(nb, "kind: [unclosed", &stats), OVNKIT_RESULT_MANIFEST_ERROR);
    CHECK(stats == SENTINEL);
    CHECK(strlen(ovnkit_last_error()) > 0);
    EXPECT(ovnkit_kube_apply(nb, "apiVersion: v1\nkind: Gizmo\nmetadata:\n  name: g\n", &stats),
           OVNKIT_RESULT_MANIFEST_ERROR);
    CHECK(stats == SENTINEL);
    EXPECT(ovnkit_kube_apply(sb, node, &stats), OVNKIT_RESULT_INVALID_ARGUMENT);
    EXPECT(ovnkit_kube_apply(NULL, node, &stats), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_kube_apply(nb, NULL, &stats), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_kube_apply(nb, node, NULL), OVNKIT_RESULT_NULL_ARGUMENT);
    EXPECT(ovnkit_kube_apply(nb, "\xff\xfe", &stats), OVNKIT_RESULT_INVALID_UTF8);
    CHECK(stats == SENTINEL);

    OK(ovnkit_kube_apply(nb, node, &stats));
    CHECK(stats != SENTINEL && !contains(stats, "\"inserted\":0"));
    ovnkit_string_free(stats);
    char *json = NULL;
    OK(ovnkit_db_dump(nb, "Logical_Switch", &json));
    CHECK(contains(json, "node-01"));
    ovnkit_string_free(json);
    OK(ovnkit_kube_apply(nb, node, &stats));
    CHECK(contains(stats, "\"ops\":0"));
    ovnkit_string_free(stats);

    ovnkit_db_free(nb);
    ovnkit_db_free(sb);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCRATCH-DIR REMOTE\n", argv[0]);
        return 2;
    }
    test_errors_and_strings();
    test_nb_sb_pipeline(argv[1]);
    test_kube_apply();
    test_remote(argv[1], argv[2]);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
