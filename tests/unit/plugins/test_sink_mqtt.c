/*
 * Tests for the mqtt sink: it hands each batch unchanged to
 * host->publish() with a 10 s timeout, answers CG_OK or CG_RETRY (never
 * CG_EREJECTED), skips ticks, and refuses to exist without an MQTT
 * connection (publish NULL, or a host too old to have the field).
 */
#include "sink_host.h"

static const char *const three[] = {
    "{\"id\":\"a\",\"severity\":\"warning\"}",
    "{\"id\":\"b\",\"severity\":\"critical\"}",
    "{\"id\":\"c\",\"severity\":\"info\"}",
};

static void test_descriptor(void **state)
{
    const struct cg_plugin *p = &cg_builtin_sink_mqtt;
    assert_int_equal(p->abi_version, CG_PLUGIN_ABI);
    assert_int_equal(p->struct_size, sizeof(struct cg_plugin));
    assert_string_equal(p->name, "mqtt");
    assert_string_equal(p->kind, "sink");
    /* Every option is one the host handles: topics, QoS, the connection. */
    assert_string_equal(p->options[0].name, "topic");
    assert_int_equal(p->options[0].type, CG_OPT_TEMPLATE);
    assert_string_equal(p->options[1].name, "qos");
    assert_int_equal(p->options[1].type, CG_OPT_QOS);
    assert_string_equal(p->options[2].name, "broker");
    assert_int_equal(p->options[2].type, CG_OPT_BROKER);
    assert_string_equal(p->options[3].name, "retain");
    assert_int_equal(p->options[3].type, CG_OPT_RETAIN);
    assert_null(p->options[4].name);
    assert_null(p->decode);
    assert_non_null(p->deliver);
}

static void test_publishes_the_batch(void **state)
{
    struct test_batch t;
    struct cg_delivery_result res;
    sink_host_reset();
    void *s = sink_create(&cg_builtin_sink_mqtt, "{}");
    const struct cg_batch *b = make_batch(&t, three, 3);
    assert_int_equal(cg_builtin_sink_mqtt.deliver(s, b, &res), CG_OK);
    assert_int_equal(sink_fake.publish_calls, 1);
    assert_ptr_equal(sink_fake.last_batch, b);
    assert_int_equal(sink_fake.published, 3);
    assert_int_equal(sink_fake.timeout_ms, 10000);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.detail, "");
    cg_builtin_sink_mqtt.destroy(s);
}

static void test_tick_publishes_nothing(void **state)
{
    struct cg_delivery_result res;
    sink_host_reset();
    void *s = sink_create(&cg_builtin_sink_mqtt, "{}");
    assert_int_equal(cg_builtin_sink_mqtt.deliver(s, &empty_batch, &res),
                     CG_OK);
    assert_int_equal(sink_fake.publish_calls, 0);
    cg_builtin_sink_mqtt.destroy(s);
}

/* Not connected or not acknowledged in time: retried, then delivered
 * once the connection is back. */
static void test_retry_then_ok(void **state)
{
    struct test_batch t;
    struct cg_delivery_result res;
    sink_host_reset();
    void *s = sink_create(&cg_builtin_sink_mqtt, "{}");
    const struct cg_batch *b = make_batch(&t, three, 2);
    sink_fake.publish_rc = CG_RETRY;
    assert_int_equal(cg_builtin_sink_mqtt.deliver(s, b, &res), CG_RETRY);
    assert_non_null(strstr(res.detail, "acknowledged"));
    assert_int_equal(res.retry_after_ms, 0);
    sink_fake.publish_rc = CG_OK;
    assert_int_equal(cg_builtin_sink_mqtt.deliver(s, b, &res), CG_OK);
    assert_int_equal(sink_fake.publish_calls, 2);
    assert_int_equal(sink_fake.published, 4);
    cg_builtin_sink_mqtt.destroy(s);
}

/* A host that answers outside its contract still loses nothing. */
static void test_unexpected_result_is_retried(void **state)
{
    static const int odd[] = {CG_ECONN, CG_ETIMEDOUT, CG_EREJECTED, CG_EIO};
    struct test_batch t;
    struct cg_delivery_result res;
    sink_host_reset();
    void *s = sink_create(&cg_builtin_sink_mqtt, "{}");
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        sink_fake.publish_rc = odd[i];
        assert_int_equal(
            cg_builtin_sink_mqtt.deliver(s, make_batch(&t, three, 1), &res),
            CG_RETRY);
        assert_non_null(strstr(res.detail, cg_strerror(odd[i])));
    }
    cg_builtin_sink_mqtt.destroy(s);
}

static void test_needs_publish(void **state)
{
    struct cg_host host = sink_host;
    char err[160];
    void *inst;
    host.publish = NULL;
    assert_int_equal(sink_create_with(&host, &cg_builtin_sink_mqtt, "{}", -1,
                                      &inst, err, sizeof(err)),
                     CG_EINVAL);
    assert_non_null(strstr(err, "publish"));
    /* A host from before publish existed: the field is beyond its size,
     * so it counts as absent whatever the memory holds. */
    host = sink_host;
    host.struct_size = offsetof(struct cg_host, publish);
    assert_int_equal(sink_create_with(&host, &cg_builtin_sink_mqtt, "{}", -1,
                                      &inst, err, sizeof(err)),
                     CG_EINVAL);
    assert_non_null(strstr(err, "MQTT connection"));
}

static void test_out_of_memory(void **state)
{
    sink_host_reset();
    assert_create_survives_oom(&cg_builtin_sink_mqtt, "{}");
}

/* Instances are independent: two consumers, two instances. */
static void test_two_instances(void **state)
{
    struct test_batch t;
    struct cg_delivery_result res;
    sink_host_reset();
    void *a = sink_create(&cg_builtin_sink_mqtt, "{}");
    void *b = sink_create(&cg_builtin_sink_mqtt, "{}");
    assert_ptr_not_equal(a, b);
    assert_int_equal(
        cg_builtin_sink_mqtt.deliver(a, make_batch(&t, three, 3), &res), CG_OK);
    cg_builtin_sink_mqtt.destroy(a);
    assert_int_equal(
        cg_builtin_sink_mqtt.deliver(b, make_batch(&t, three, 1), &res), CG_OK);
    assert_int_equal(sink_fake.published, 4);
    cg_builtin_sink_mqtt.destroy(b);
    cg_builtin_sink_mqtt.destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_publishes_the_batch),
        cmocka_unit_test(test_tick_publishes_nothing),
        cmocka_unit_test(test_retry_then_ok),
        cmocka_unit_test(test_unexpected_result_is_retried),
        cmocka_unit_test(test_needs_publish),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_two_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
