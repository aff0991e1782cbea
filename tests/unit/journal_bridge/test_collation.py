"""Names in Kazakh alphabetical order, not code-point order."""

import random
import unicodedata

from journal_bridge.collation import KAZAKH_ALPHABET, kazakh_sort_key, sorted_kazakh


def test_every_letter_sorts_in_the_order_of_the_kazakh_alphabet():
    shuffled = list(KAZAKH_ALPHABET)
    random.Random(5).shuffle(shuffled)
    assert sorted_kazakh(shuffled) == list(KAZAKH_ALPHABET)
    assert "".join(KAZAKH_ALPHABET) == "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя"


def test_kazakh_letters_sit_next_to_their_base_letters_unlike_code_point_order():
    names = ["Қасымов", "Кенжебаев", "Лесбеков", "Өтегенов", "Оспанов", "Пернебаев"]
    assert sorted(names) != sorted_kazakh(names)
    assert sorted_kazakh(names) == ["Кенжебаев", "Қасымов", "Лесбеков", "Оспанов", "Өтегенов", "Пернебаев"]


def test_case_is_ignored_and_a_shorter_surname_comes_first():
    assert sorted_kazakh(["ӘЛИЕВ Ә.", "Әли Б.", "әлиева А."]) == ["Әли Б.", "ӘЛИЕВ Ә.", "әлиева А."]


def test_a_decomposed_letter_sorts_like_the_composed_one():
    decomposed = unicodedata.normalize("NFD", "Йусупов")
    assert decomposed != "Йусупов"
    assert kazakh_sort_key(decomposed)[0] == kazakh_sort_key("Йусупов")[0]
    assert sorted_kazakh(["Капаров", decomposed, "Иванов"]) == ["Иванов", decomposed, "Капаров"]


def test_letters_outside_the_alphabet_come_after_it_in_a_stable_order():
    assert sorted_kazakh(["Smith", "Яковлев", "Абаев", "Brown"]) == ["Абаев", "Яковлев", "Brown", "Smith"]
