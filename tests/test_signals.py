"""The signals check: what it catches, and the clean equivalents it stays quiet on."""

from __future__ import annotations

from runs import Scenario

CHECKS = "signals"

HANDLERS = """
    from django.db.models.signals import post_save
    from django.dispatch import Signal, receiver

    from testproject.shop.models import Product

    order_placed = Signal()
    sent = []


    def notify(sender, **kwargs):
        sent.append(kwargs.get("instance"))


    @receiver(post_save, sender=Product)
    def index_product(sender, instance, **kwargs):
        instance.indexed = True
"""

CONNECTED_AND_LEFT = """
    from django.db.models.signals import post_save
    from django.test import TestCase

    from scenario import handlers
    from testproject.shop.models import Product


    class NotifyTests(TestCase):
        def test_a_connects_a_notifier(self):
            post_save.connect(handlers.notify, sender=Product)
            handlers.order_placed.connect(handlers.notify, dispatch_uid="notify-orders")

        def test_b_saving_a_product_sends_nothing(self):
            Product.objects.create(name="Mug", sku="MUG-1", price="3.50")
            self.assertEqual(handlers.sent, [])
"""


def test_connected_receiver_is_caught_with_signal_sender_and_line(scenario: Scenario) -> None:
    scenario.write("handlers.py", HANDLERS)
    scenario.write("test_notify.py", CONNECTED_AND_LEFT)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output  # the victim fails, as it would without the tool
    polluter = scenario.test_id("test_notify", "NotifyTests", "test_a_connects_a_notifier")
    found = {f["details"]["signal"]: f for f in run.findings}
    assert set(found) == {"django.db.models.signals.post_save", "scenario.handlers.order_placed"}
    assert {f["test"] for f in run.findings} == {polluter}
    post_save = found["django.db.models.signals.post_save"]
    assert post_save["details"] | {"scope": None} == {
        "change": "connected",
        "signal": "django.db.models.signals.post_save",
        "receiver": "scenario.handlers.notify",
        "sender": "shop.Product",
        "dispatch_uid": None,
        "before": None,
        "after": "scenario.handlers.notify",
        "scope": None,
    }
    assert post_save["origin"][0] == {
        "file": "scenario/test_notify.py",
        "line": 11,
        "function": "test_a_connects_a_notifier",
    }
    assert found["scenario.handlers.order_placed"]["details"]["dispatch_uid"] == "notify-orders"
    assert found["scenario.handlers.order_placed"]["origin"][0]["line"] == 12
    assert "addCleanup(post_save.disconnect" in post_save["advice"]
    victim = scenario.test_id("test_notify", "NotifyTests", "test_b_saving_a_product_sends_nothing")
    assert run.victims == {victim: [polluter]}


DISCONNECTED_FOR_GOOD = """
    from django.db.models.signals import post_save
    from django.test import TestCase

    from scenario import handlers
    from testproject.shop.models import Product


    class IndexTests(TestCase):
        def test_a_saves_without_indexing(self):
            post_save.disconnect(handlers.index_product, sender=Product)
            Product.objects.create(name="Mug", sku="MUG-1", price="3.50")

        def test_b_saving_indexes(self):
            product = Product.objects.create(name="Cup", sku="CUP-1", price="2.50")
            self.assertTrue(getattr(product, "indexed", False))
"""


def test_receiver_disconnected_and_never_reconnected_is_caught(scenario: Scenario) -> None:
    scenario.write("handlers.py", HANDLERS)
    scenario.write("test_index.py", DISCONNECTED_FOR_GOOD)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output
    polluter = scenario.test_id("test_index", "IndexTests", "test_a_saves_without_indexing")
    [finding] = run.findings
    assert finding["test"] == polluter
    assert finding["summary"] == (
        "receiver scenario.handlers.index_product disconnected from django.db.models.signals.post_save "
        "for sender shop.Product"
    )
    assert finding["details"]["change"] == "disconnected"
    assert "reconnect" in finding["advice"]
    assert run.victims == {scenario.test_id("test_index", "IndexTests", "test_b_saving_indexes"): [polluter]}


CLEAN_FORMS = """
    import importlib

    from django.core.signals import request_finished
    from django.db.models.signals import post_save, pre_save
    from django.test import TestCase, override_settings

    from scenario import handlers
    from testproject.shop.models import Product


    class CleanTests(TestCase):
        def test_disconnect_in_cleanup(self):
            post_save.connect(handlers.notify, sender=Product)
            self.addCleanup(post_save.disconnect, handlers.notify, sender=Product)

        def test_try_finally(self):
            handlers.order_placed.connect(handlers.notify)
            try:
                handlers.order_placed.send(sender=None)
            finally:
                handlers.order_placed.disconnect(handlers.notify)

        def test_disconnect_and_reconnect(self):
            post_save.disconnect(handlers.index_product, sender=Product)
            self.addCleanup(post_save.connect, handlers.index_product, sender=Product)

        def test_local_weak_receiver_that_dies(self):
            def on_finished(sender, **kwargs):
                pass

            request_finished.connect(on_finished)

        def test_first_import_with_module_level_receivers(self):
            module = importlib.import_module("scenario.late_receivers")
            self.assertTrue(pre_save.has_listeners(Product))
            self.assertTrue(module.loaded)

        def test_django_internals(self):
            with self.assertNumQueries(1):
                Product.objects.count()
            with override_settings(TIME_ZONE="Asia/Tokyo"):
                pass
"""

LATE_RECEIVERS = """
    from django.db.models.signals import pre_save
    from django.dispatch import receiver

    from testproject.shop.models import Product

    loaded = True


    @receiver(pre_save, sender=Product)
    def stamp(sender, instance, **kwargs):
        pass


    def other(sender, **kwargs):
        pass


    pre_save.connect(other, sender=Product, dispatch_uid="late-other")
"""


def test_clean_forms_are_quiet(scenario: Scenario) -> None:
    scenario.write("handlers.py", HANDLERS)
    scenario.write("late_receivers.py", LATE_RECEIVERS)
    scenario.write("test_clean.py", CLEAN_FORMS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    assert len(run.report["order"]["main"]) == 6  # type: ignore[index]
    assert run.findings == []


TEMPORARY_SENDERS = """
    from django.db import models
    from django.db.models.signals import post_save
    from django.test import SimpleTestCase
    from django.test.utils import isolate_apps

    from testproject.shop.models import Product


    def stamp(sender, instance, **kwargs):
        pass


    class StampedField(models.CharField):
        def contribute_to_class(self, cls, name, **kwargs):
            super().contribute_to_class(cls, name, **kwargs)
            post_save.connect(stamp, sender=cls, weak=False)


    class SenderTests(SimpleTestCase):
        @isolate_apps("testproject.shop")
        def test_a_temporary_model_with_the_field(self):
            class Stamped(models.Model):
                code = StampedField(max_length=5)

                class Meta:
                    app_label = "shop"

        def test_connects_for_a_registered_model(self):
            post_save.connect(stamp, sender=Product, weak=False)  # @connect
"""


def test_receivers_for_a_temporary_registrys_models_are_quiet_and_for_a_registered_model_caught(
    scenario: Scenario,
) -> None:
    """A field connecting for the models of a temporary registry (migration states, isolate_apps) is no leak."""
    scenario.write("test_senders.py", TEMPORARY_SENDERS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 0, run.output
    [finding] = run.findings
    assert finding["test"] == scenario.test_id("test_senders", "SenderTests", "test_connects_for_a_registered_model")
    assert finding["details"]["sender"] == "shop.Product"


FAILED_MODEL_AND_OTHER_SENDERS = """
    from django.core.exceptions import ImproperlyConfigured
    from django.db import models
    from django.db.models.signals import post_init, post_save
    from django.test import TestCase

    from django.contrib.auth.models import Group
    from testproject.shop.models import Product


    def stamp(sender, instance, **kwargs):
        pass


    class ConflictingField(models.CharField):  # django-model-utils' StatusField raising in contribute_to_class
        def contribute_to_class(self, cls, name, **kwargs):
            super().contribute_to_class(cls, name, **kwargs)
            post_init.connect(stamp, sender=cls, weak=False)
            raise ImproperlyConfigured("conflicting field")


    class SenderTests(TestCase):
        def test_a_model_whose_creation_fails(self):
            with self.assertRaises(ImproperlyConfigured):
                class ErrorModel(models.Model):
                    status = ConflictingField(max_length=5)

                    class Meta:
                        app_label = "shop"

        def test_b_connects_for_products(self):
            post_save.connect(stamp, sender=Product, weak=False)

        def test_c_saves_a_group_and_fails_on_its_own(self):
            Group.objects.create(name="staff")
            self.assertEqual(Group.objects.count(), 2)
"""


def test_receivers_for_a_model_no_registry_holds_are_quiet_and_a_send_links_only_its_own_sender(
    scenario: Scenario,
) -> None:
    """The failed model's receiver can never fire; saving a Group sends post_save, but not for Product."""
    scenario.write("test_senders.py", FAILED_MODEL_AND_OTHER_SENDERS)
    run = scenario.run(checks=CHECKS)
    assert run.returncode == 1, run.output
    assert [f["test"] for f in run.findings] == [
        scenario.test_id("test_senders", "SenderTests", "test_b_connects_for_products")
    ], run.findings
    assert run.victims == {}
    victim = scenario.test_id("test_senders", "SenderTests", "test_c_saves_a_group_and_fails_on_its_own")
    assert run.report["unexplained"] == [victim]  # type: ignore[index]
