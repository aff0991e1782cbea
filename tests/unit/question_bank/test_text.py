from question_bank.text import clean_option, clean_text, comparison_key, decode_bytes, fold_lookalikes

KAZAKH = "Әділет ғылымы қағида ңөұүһі"


def test_utf8_without_bom_is_read_as_utf8():
    assert decode_bytes(KAZAKH.encode("utf-8")).text == KAZAKH


def test_utf8_bom_is_stripped():
    decoded = decode_bytes(KAZAKH.encode("utf-8-sig"))
    assert decoded.text == KAZAKH
    assert "BOM" in decoded.encoding


def test_utf16_with_bom_in_either_byte_order():
    for codec in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + KAZAKH + "\r\nжол").encode(codec)
        assert decode_bytes(data).text == KAZAKH + "\nжол"


def test_utf16_without_bom_is_recognised_by_its_zero_bytes():
    assert decode_bytes("<question>Сұрақ мәтіні".encode("utf-16-le")).text == "<question>Сұрақ мәтіні"


def test_russian_cp1251_is_read_as_cp1251():
    decoded = decode_bytes("Вопрос о праве\r\n".encode("cp1251"))
    assert decoded.text == "Вопрос о праве\n"
    assert decoded.encoding == "cp1251"


def test_kazakh_single_byte_file_is_read_as_kz1048():
    decoded = decode_bytes(KAZAKH.encode("kz1048"))
    assert decoded.text == KAZAKH
    assert decoded.encoding == "kz1048"


def test_a_file_mixing_utf8_and_cp1251_lines_decodes_each_line_and_names_them():
    data = "Бірінші жол\n".encode() + "Вторая строка\n".encode("cp1251") + "Үшінші".encode()
    decoded = decode_bytes(data)
    assert decoded.text == "Бірінші жол\nВторая строка\nҮшінші"
    assert decoded.foreign_lines == (2,)


def test_latin_lookalikes_inside_cyrillic_words_become_cyrillic():
    assert fold_lookalikes("бiлiм") == "білім"  # Latin i -> Kazakh і
    assert fold_lookalikes("əке") == "әке"  # Latin schwa -> Kazakh ә
    assert fold_lookalikes("Kазақcтан") == "Казақстан"
    assert fold_lookalikes("шаһар") == "шаһар"
    assert fold_lookalikes("шаhар") == "шаһар"


def test_latin_words_and_mixed_words_with_true_latin_letters_are_left_alone():
    assert fold_lookalikes("Microsoft Excel, x = 5, ip") == "Microsoft Excel, x = 5, ip"
    assert fold_lookalikes("Zакон") == "Zакон"


def test_clean_text_trims_lines_and_collapses_blank_runs():
    assert clean_text("  Сұрақ \t мәтіні  \n\n\n екінші\u00a0жол \n") == "Сұрақ мәтіні\n\nекінші жол"


def test_clean_option_drops_blank_lines_and_invisible_characters():
    assert clean_option("жауап\u00ad\n\n  жалғасы\u200b ") == "жауап\nжалғасы"


def test_comparison_key_ignores_case_spacing_punctuation_and_keyboard_lookalikes():
    assert comparison_key("Қазақстан  астанасы?") == comparison_key("қазақcтан астанасы")
    assert comparison_key("Қазақстан астанасы") != comparison_key("Қазақстан туы")
